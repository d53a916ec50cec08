// In-page dialogs in place of alert(), confirm() and prompt(): one
// <dialog>, styled like the app, usable by keyboard (Enter, Esc).

const $ = (id) => document.getElementById(id);

// Shows `text`; resolves to the entered value (for `input`), true (OK) or
// false/null (cancelled).
function ask(text, { ok = 'OK', cancel = 'Cancel', danger = false, input = null } = {}) {
  return new Promise((resolve) => {
    const dialog = $('ask-dialog');
    $('ask-text').textContent = text;
    $('ask-ok').textContent = ok;
    $('ask-ok').className = danger ? 'danger' : '';
    $('ask-cancel').hidden = cancel === null;
    if (cancel !== null) $('ask-cancel').textContent = cancel;
    const field = $('ask-input');
    field.hidden = !input;
    $('ask-label').hidden = !input;
    if (input) {
      $('ask-label').textContent = input.label;
      field.type = input.type || 'text';
      field.value = input.value || '';
      field.autocomplete = input.type === 'password' ? 'new-password' : 'off';
    }
    dialog.addEventListener('close', () => {
      const yes = dialog.returnValue === 'ok';
      resolve(input ? (yes ? field.value : null) : yes);
    }, { once: true });
    dialog.returnValue = '';
    // Counts the questions asked, so a caller can tell one from the next.
    dialog.dataset.asked = String(Number(dialog.dataset.asked || 0) + 1);
    dialog.showModal();
    (input ? field : $('ask-ok')).focus();
  });
}

export const confirmDialog = (text, opts = {}) => ask(text, opts);
export const alertDialog = (text) => ask(text, { cancel: null });
export const promptDialog = (text, input, opts = {}) => ask(text, { ...opts, input });
