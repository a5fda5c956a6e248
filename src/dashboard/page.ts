/**
 * The dashboard page as it stands before its views: a sign-in form, or who is signed in and a way
 * out. The Content-Security-Policy forbids inline scripts, so the page's behaviour is a separate file
 * served from `/dashboard/login.js`.
 */

/** `text` safe inside HTML text and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** The page for a visitor signed in as `name`, or for one who is not (`undefined`). */
export function page(name: string | undefined): string {
  const body =
    name === undefined
      ? `<form id="login">
<h1>Herald dashboard</h1>
<p><label>Name <input name="name" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
<p id="error" role="alert"></p>
</form>`
      : `<h1>Herald dashboard</h1>
<p>Signed in as <strong>${escapeHtml(name)}</strong></p>
<p><button id="logout" type="button">Sign out</button></p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald dashboard</title>
<script src="/dashboard/login.js" defer></script>
</head>
<body>
${body}
</body>
</html>
`;
}

/** Signs in and out through the JSON API, then reloads the page. */
export const LOGIN_SCRIPT = `'use strict';
const post = (path, body) =>
  fetch('/dashboard/api/' + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
const form = document.getElementById('login');
if (form) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const response = await post('login', { name: data.get('name'), password: data.get('password') });
    if (response.ok) return location.reload();
    const answer = await response.json().catch(() => ({ error: 'HTTP ' + response.status }));
    document.getElementById('error').textContent = answer.error;
  });
}
const logout = document.getElementById('logout');
if (logout) {
  logout.addEventListener('click', async () => {
    await post('logout', {});
    location.reload();
  });
}
`;
