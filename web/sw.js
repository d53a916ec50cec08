// The service worker: keeps the app shell (the page, its scripts, styles
// and icons) so the app opens without a connection and shows what waits to
// be sent. It never stores API answers, files or anything else: those go
// to the network as if it were not here.
//
// The shell is fetched from the network first (so a new version shows at
// once) and from the cache only when the network fails.

const CACHE = 'securechat-shell-v9';
const SHELL = [
  '/', '/app/app.css', '/app/icon.svg', '/app/manifest.webmanifest',
  '/app/js/main.js', '/app/js/api.js', '/app/js/connection.js', '/app/js/state.js',
  '/app/js/views.js', '/app/js/sidebar.js', '/app/js/messages.js', '/app/js/intro.js',
  '/app/js/keyed.js', '/app/js/people.js', '/app/js/composer.js', '/app/js/uploads.js',
  '/app/js/dialogs.js', '/app/js/profile.js', '/app/js/admin.js', '/app/js/theme.js',
  '/app/js/offline.js', '/app/js/format.js', '/app/js/search.js', '/app/js/markup.js',
  '/app/js/threads.js', '/app/js/reactions.js', '/app/js/emoji.js', '/app/js/mentions.js',
  '/app/js/roomtools.js', '/app/js/e2e.js', '/app/js/security.js', '/app/js/reset.js', '/app/js/roomdialogs.js', '/app/js/integrations.js',
  '/app/crypto/securechat_crypto_wasm.js', '/app/crypto/securechat_crypto_wasm_bg.wasm',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

function isShell(url) {
  return url.origin === self.location.origin && (url.pathname === '/' || url.pathname.startsWith('/app/'));
}

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || !isShell(url)) return;
  e.respondWith((async () => {
    try {
      const res = await fetch(e.request);
      if (res.ok) {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(url.pathname, copy));
      }
      return res;
    } catch (err) {
      const hit = await caches.match(url.pathname);
      if (hit) return hit;
      throw err;
    }
  })());
});
