// A password reset link (`/#reset=TOKEN`, made by an admin): choose a new
// password, once, then log in with it. The token stays in the URL's
// fragment, which browsers never send, so it reaches no server log.

import { api, explain } from './api.js';

const $ = (id) => document.getElementById(id);

// The token in this page's address, if it is a reset link.
export function resetToken() {
  const m = /^#reset=([A-Za-z0-9_-]{20,100})$/.exec(location.hash);
  return m ? m[1] : null;
}

// Shows the new-password form in place of the login form; on success,
// the login form comes back with the username filled in.
export function showReset(token) {
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-form').hidden = true;
  $('reset-form').hidden = false;
  $('reset-password').focus();
  $('reset-form').onsubmit = async (e) => {
    e.preventDefault();
    const err = $('reset-error');
    const password = $('reset-password').value;
    err.textContent = '';
    if (!password) { err.textContent = 'Enter a new password.'; $('reset-password').focus(); return; }
    if (password !== $('reset-again').value) { err.textContent = 'The two passwords differ.'; $('reset-again').focus(); return; }
    try {
      const res = await api('POST', '/api/password/reset', { token, new_password: password });
      history.replaceState(null, '', location.pathname + location.search);
      $('reset-password').value = '';
      $('reset-again').value = '';
      $('reset-form').hidden = true;
      $('login-form').hidden = false;
      $('login-username').value = res.username;
      $('login-note').textContent = 'Your password is changed: log in with it.';
      $('login-password').focus();
    } catch (ex) {
      err.textContent = explain(ex);
    }
  };
}
