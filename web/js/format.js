// Turning message data into DOM nodes. User text only ever becomes text
// nodes; links are made for http(s) URLs only, never for other schemes.

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// The body as text nodes, with http(s) URLs as safe links.
export function richText(body) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of body.matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)]+$/, '');
    frag.append(document.createTextNode(body.slice(last, m.index)));
    let ok = false;
    try { ok = ['http:', 'https:'].includes(new URL(url).protocol); } catch { ok = false; }
    if (ok) {
      frag.append(el('a', { href: url, rel: 'noopener noreferrer', target: '_blank', text: url }));
    } else {
      frag.append(document.createTextNode(url));
    }
    last = m.index + url.length;
  }
  frag.append(document.createTextNode(body.slice(last)));
  return frag;
}

export function timeOf(ts) {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function fullTime(ts) {
  return new Date(ts).toLocaleString();
}

// Day labels, formatted once per day (formatting is the costly part).
const days = new Map();

export function dayOf(ts) {
  const d = new Date(ts);
  const key = d.getFullYear() * 10000 + d.getMonth() * 100 + d.getDate();
  let label = days.get(key);
  if (!label) {
    label = d.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
    days.set(key, label);
  }
  return label;
}
