"""Indexes for what the dashboard, analytics, job lists and job timelines filter and sort on.

bench/api.py (20,000 jobs, 40,000 log lines) measured full scans without them: dashboard
67 -> 17 ms CPU a request, job detail 24 -> 6 ms, connection metrics 29 -> 10-21 ms.

``AlterIndex`` is ``AlterField`` (the same state change, so the autodetector is satisfied)
whose database step only creates the column's index. Plain ``AlterField`` on SQLite rebuilds
the table (tortoise 1.1.9 ``SqliteSchemaEditor._remake_table``) and loses every index the
table had, the unique ones included.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class AlterIndex(ops.AlterField):
    """A field that only gains an index: CREATE INDEX, nothing else (forward only)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if not state_editor:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        field = model._meta.fields_map[self.name]
        column = getattr(field, "source_field", None) or self.name
        await state_editor.add_index(model, Index(fields=(column,)))

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        if not state_editor:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        field = model._meta.fields_map[self.name]
        column = getattr(field, "source_field", None) or self.name
        await state_editor.remove_index(model, Index(fields=(column,)))


class Migration(migrations.Migration):
    dependencies = [('models', '0002_source_post_title')]

    initial = False

    operations = [
        AlterIndex(
            model_name='Job',
            name='connection',
            field=fields.ForeignKeyField('models.Connection', source_field='connection_id', db_index=True, db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.CASCADE),
        ),
        AlterIndex(
            model_name='Job',
            name='created_at',
            field=fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True),
        ),
        AlterIndex(
            model_name='Job',
            name='finished_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        AlterIndex(
            model_name='Job',
            name='started_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        AlterIndex(
            model_name='LogEntry',
            name='job',
            field=fields.ForeignKeyField('models.Job', source_field='job_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='logs', on_delete=OnDelete.SET_NULL),
        ),
    ]
