// Navigation between screens (hash routes: #/connections/3). The shell listens for hashchange.

export function go(target, { replace = false } = {}) {
  if (replace) location.replace(`#${target}`);
  else location.hash = `#${target}`;
}

// The query part of the hash route: #/jobs?tab=dead
export function query() {
  const hash = location.hash;
  const i = hash.indexOf('?');
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : '');
}

export function path() {
  const hash = location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash.split('?')[0] : '/';
}
