"""/api/jobs and /api/logs (specification §4.5.3, §4.10.4, §6.5)."""

from __future__ import annotations

from aiohttp import web

from core.models import JobStatus, LogLevel
from webapp import render
from webapp.context import services
from webapp.parse import Query, path_id
from webapp.routes import PAGE, Param, RouteTable, arr, b, i, obj, ref, s

routes = RouteTable(tag="jobs")

ID = r"/api/jobs/{id:\d+}"
TIMELINE_LIMIT = 500
JOB_PAGE = obj({"total": i(), "limit": i(), "offset": i(), "jobs": arr(ref("Job"))})


@routes.get("/api/jobs", "List jobs, newest first", response=JOB_PAGE, query=(
    *PAGE,
    Param("connection_id", i()),
    Param("status", s("comma-separated: queued,running,retrying,success,failed,captcha_pending,cancelled")),
    Param("since", s("jobs created at or after (ISO 8601)", format="date-time")),
    Param("dead_letter", b()),
))
async def list_jobs(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    connection_id = q.number("connection_id", minimum=1)
    statuses = q.choices("status", JobStatus)
    since = q.moment("since")
    dead = q.flag("dead_letter")
    q.done()
    total, rows = await services(request).jobs.list_jobs(
        connection_id=connection_id, statuses=statuses, since=since, dead_letter=dead, limit=limit,
        offset=offset)
    return web.json_response(render.page(total, limit, offset, "jobs", [render.job(j) for j in rows]))


@routes.get("/api/jobs/dead-letter", "The dead-letter queue", query=(*PAGE, Param("connection_id", i())),
            response=obj({"total": i(), "total_count": i(), "limit": i(), "offset": i(),
                          "jobs": arr(obj(description="job_id, connection_name, final_error, ..."))}))
async def dead_letter(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    connection_id = q.number("connection_id", minimum=1)
    q.done()
    total, rows = await services(request).jobs.list_jobs(connection_id=connection_id, dead_letter=True,
                                                         limit=limit, offset=offset)
    body = render.page(total, limit, offset, "jobs", [render.dead_letter(j) for j in rows])
    return web.json_response({**body, "total_count": total})


@routes.get(ID, "A job with its checkpoint summary and timeline",
            response=obj({"status": s(), "job": ref("Job"), "checkpoint": obj(),
                          "timeline": arr(ref("Log"))}))
async def get_job(request: web.Request) -> web.Response:
    svc = services(request)
    job = await svc.jobs.get(path_id(request))
    _total, logs = await svc.system.logs(min_level=LogLevel.DEBUG, job_id=job.id, limit=TIMELINE_LIMIT)
    return web.json_response({"status": "success", "job": render.job(job),
                              "checkpoint": render.checkpoint_summary(job.checkpoint),
                              "timeline": [render.log_entry(e) for e in reversed(logs)]})


@routes.post(ID + "/retry", "Retry a dead-lettered job as a new job",
             response=obj({"status": s(), "message": s(), "job_id": i(), "retried_job_id": i()}))
async def retry(request: web.Request) -> web.Response:
    old = path_id(request)
    new = await services(request).jobs.retry_dead(old)
    return web.json_response({"status": "success",
                              "message": f"New job {new.id} created and queued for retry",
                              "job_id": new.id, "retried_job_id": old})


@routes.post(ID + "/cancel", "Cancel a job that has not finished",
             response=obj({"status": s(), "job": ref("Job")}))
async def cancel(request: web.Request) -> web.Response:
    job = await services(request).jobs.cancel(path_id(request))
    return web.json_response({"status": "success", "job": render.job(job)})


@routes.delete(ID, "Delete a job that is not running", response=obj({"status": s(), "deleted": i()}))
async def delete_job(request: web.Request) -> web.Response:
    job_id = path_id(request)
    await services(request).jobs.delete(job_id)
    return web.json_response({"status": "success", "deleted": job_id})


# ---- logs ----------------------------------------------------------------------------------

@routes.get("/api/logs", "Log lines at a level or above, newest first", tag="logs", query=(
    *PAGE,
    Param("level", s("minimum level", enum=[lv.value for lv in LogLevel], default="info")),
    Param("connection_id", i()), Param("job_id", i()), Param("account_id", i()),
    Param("since", s(format="date-time")),
), response=obj({"total": i(), "limit": i(), "offset": i(), "logs": arr(ref("Log"))}))
async def list_logs(request: web.Request) -> web.Response:
    q = Query(request)
    limit, offset = q.page()
    level = q.choice("level", LogLevel, LogLevel.INFO)
    connection_id = q.number("connection_id", minimum=1)
    job_id = q.number("job_id", minimum=1)
    account_id = q.number("account_id", minimum=1)
    since = q.moment("since")
    q.done()
    total, rows = await services(request).system.logs(
        min_level=level, connection_id=connection_id, job_id=job_id, account_id=account_id, since=since,
        limit=limit, offset=offset)
    return web.json_response(render.page(total, limit, offset, "logs", [render.log_entry(e) for e in rows]))


@routes.get(r"/api/logs/{id:\d+}", "A log line", tag="logs", response=obj({"status": s(), "log": ref("Log")}))
async def get_log(request: web.Request) -> web.Response:
    entry = await services(request).system.log(path_id(request))
    return web.json_response({"status": "success", "log": render.log_entry(entry)})
