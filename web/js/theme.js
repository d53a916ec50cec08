// Light, dark, or the system's choice; kept per user on this device.

const key = (userId) => `securechat.theme.${userId || 0}`;

export function applyTheme(choice) {
  if (choice === 'light' || choice === 'dark') document.documentElement.dataset.theme = choice;
  else delete document.documentElement.dataset.theme;
  const select = document.getElementById('theme-select');
  if (select) select.value = choice || '';
}

export function loadTheme(userId) {
  let choice = '';
  try { choice = localStorage.getItem(key(userId)) || ''; } catch { /* storage off */ }
  applyTheme(choice);
}

export function wireTheme(currentUserId) {
  document.getElementById('theme-select').addEventListener('change', (e) => {
    const choice = e.target.value;
    applyTheme(choice);
    try {
      if (choice) localStorage.setItem(key(currentUserId()), choice);
      else localStorage.removeItem(key(currentUserId()));
    } catch { /* storage off: the choice lasts until reload */ }
  });
}
