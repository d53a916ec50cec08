// The message formatting grammar (docs/formatting.md): the same parser as
// crates/proto/src/markup.rs, checked against the same cases
// (tests/markup/cases.json). It only builds a tree of plain objects; the
// DOM is made from the tree by format.js, with text nodes only.

export const MAX_DEPTH = 8;
const ESCAPABLE = '\\`*_~>#-+.[]()@';
const NAME = /[A-Za-z0-9._-]/;
const ALNUM = /[\p{L}\p{N}]/u;
const SPACE = /\s/u;

function quoteLine(line) {
  if (!line.startsWith('>')) return null;
  const rest = line.slice(1);
  return rest.startsWith(' ') ? rest.slice(1) : rest;
}

function bullet(line) {
  for (const p of ['- ', '* ', '+ ']) {
    if (line.startsWith(p)) {
      const rest = line.slice(2);
      return rest.trim() ? rest : null;
    }
  }
  return null;
}

function numbered(line) {
  const m = /^([0-9]{1,9})[.)] /.exec(line);
  if (!m) return null;
  const rest = line.slice(m[0].length);
  return rest.trim() ? { start: Number(m[1]), rest } : null;
}

const isBlank = (l) => l.trim() === '';

export function parse(body) {
  const lines = body.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const lang = line.slice(3).trim();
      const text = [];
      i += 1;
      while (i < lines.length && lines[i].trimEnd() !== '```') text.push(lines[i++]);
      i += 1;
      blocks.push({ t: 'pre', lang, text: text.join('\n') });
    } else if (quoteLine(line) !== null) {
      const text = [];
      while (i < lines.length && quoteLine(lines[i]) !== null) text.push(quoteLine(lines[i++]));
      blocks.push({ t: 'quote', c: inline(text.join('\n')) });
    } else if (bullet(line) !== null) {
      const items = [];
      while (i < lines.length && bullet(lines[i]) !== null) items.push(inline(bullet(lines[i++])));
      blocks.push({ t: 'ul', items });
    } else if (numbered(line)) {
      const start = numbered(line).start;
      const items = [];
      while (i < lines.length && numbered(lines[i])) items.push(inline(numbered(lines[i++]).rest));
      blocks.push({ t: 'ol', start, items });
    } else if (isBlank(line)) {
      i += 1;
    } else {
      const text = [];
      while (i < lines.length) {
        const l = lines[i];
        const starts = l.startsWith('```') || quoteLine(l) !== null || bullet(l) !== null || numbered(l);
        if (isBlank(l) || starts) break;
        text.push(l);
        i += 1;
      }
      blocks.push({ t: 'p', c: inline(text.join('\n')) });
    }
  }
  return blocks;
}

// Rust's `char::is_whitespace` and `is_alphanumeric`, near enough.
const space = (c) => c === undefined || SPACE.test(c);
const alnum = (c) => c !== undefined && ALNUM.test(c);

function linkEnd(s, i) {
  const rest = s.slice(i);
  let scheme;
  if (rest.startsWith('https://')) scheme = 8;
  else if (rest.startsWith('http://')) scheme = 7;
  else return null;
  const m = /[\s<>"`]/u.exec(rest);
  let url = m ? rest.slice(0, m.index) : rest;
  // Counted once, then kept up to date: stripping stays linear.
  let opens = url.split('(').length - 1;
  let closes = url.split(')').length - 1;
  for (;;) {
    const last = url[url.length - 1];
    if (last === undefined) break;
    if (".,:;!?'*_~]".includes(last) || (last === ')' && closes > opens)) {
      if (last === ')') closes -= 1;
      url = url.slice(0, -1);
    } else break;
  }
  return url.length > scheme ? i + url.length : null;
}

const KIND = { '**': 'b', '*': 'star', '_': 'under', '~~': 's' };

function tokens(s) {
  // Backtick runs by length, to find each one's closer quickly.
  const runs = new Map();
  for (let j = 0; j < s.length;) {
    if (s[j] === '\\' && j + 1 < s.length) { j += 2; continue; }
    if (s[j] === '`') {
      const start = j;
      while (s[j] === '`') j += 1;
      const n = j - start;
      if (!runs.has(n)) runs.set(n, []);
      runs.get(n).push(start);
    } else j += 1;
  }
  const out = [];
  let text = '';
  const flush = () => { if (text) { out.push({ k: 'text', v: text }); text = ''; } };
  // The character before index i (a whole code point).
  const prev = (i) => (i === 0 ? undefined : String.fromCodePoint(s.codePointAt(i - 1 - (i >= 2 && /[\uDC00-\uDFFF]/.test(s[i - 1]) ? 1 : 0))));
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && ESCAPABLE.includes(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 0;
      while (s[i + n] === '`') n += 1;
      const close = after(runs.get(n), i);
      if (close !== undefined) {
        flush();
        out.push({ k: 'code', v: s.slice(i + n, close) });
        i = close + n;
      } else {
        text += s.slice(i, i + n);
        i += n;
      }
      continue;
    }
    if (c === '\n') { flush(); out.push({ k: 'br' }); i += 1; continue; }
    if (c === 'h' && !alnum(prev(i))) {
      const end = linkEnd(s, i);
      if (end !== null) { flush(); out.push({ k: 'link', v: s.slice(i, end) }); i = end; continue; }
    }
    if (c === '@') {
      const p = prev(i);
      if (p === undefined || !(NAME.test(p) || p === '@')) {
        let end = i + 1;
        while (end < s.length && NAME.test(s[end])) end += 1;
        while (end > i + 1 && s[end - 1] === '.') end -= 1;
        const name = s.slice(i + 1, end).toLowerCase();
        if (name === 'room' || name === 'here' || /^[a-z0-9._-]{3,32}$/.test(name)) {
          flush();
          out.push({ k: 'at', v: name });
          i = end;
          continue;
        }
      }
    }
    if (c === '*' || c === '_' || c === '~') {
      let n = 0;
      while (s[i + n] === c) n += 1;
      const kind = KIND[c.repeat(n)] || null;
      const before = prev(i);
      const after = i + n < s.length ? String.fromCodePoint(s.codePointAt(i + n)) : undefined;
      if (kind) {
        let open = !space(after);
        let close = !space(before);
        if (kind === 'under' || kind === 'star') {
          open = open && !alnum(before);
          close = close && !alnum(after);
        }
        if (open || close) {
          flush();
          out.push({ k: 'delim', kind, open, close, v: c.repeat(n) });
          i += n;
          continue;
        }
      }
      text += s.slice(i, i + n);
      i += n;
      continue;
    }
    const cp = String.fromCodePoint(s.codePointAt(i));
    text += cp;
    i += cp.length;
  }
  flush();
  return out;
}

// First index in the sorted `list` greater than `k`.
function after(list, k) {
  if (!list) return undefined;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] <= k) lo = mid + 1; else hi = mid;
  }
  return list[lo];
}

export function inline(s) {
  const toks = tokens(s);
  const closers = { b: [], star: [], under: [], s: [] };
  toks.forEach((t, k) => { if (t.k === 'delim' && t.close) closers[t.kind].push(k); });
  const out = [];
  build(toks, 0, toks.length, 0, closers, out);
  return out;
}

function pushText(out, v) {
  if (!v) return;
  if (typeof out[out.length - 1] === 'string') out[out.length - 1] += v;
  else out.push(v);
}

function build(toks, from, to, depth, closers, out) {
  for (let k = from; k < to; k++) {
    const t = toks[k];
    switch (t.k) {
      case 'text': pushText(out, t.v); break;
      case 'code': out.push({ t: 'code', text: t.v }); break;
      case 'link': out.push({ t: 'a', href: t.v }); break;
      case 'at': out.push({ t: 'at', name: t.v }); break;
      case 'br': out.push({ t: 'br' }); break;
      default: {
        const close = after(closers[t.kind], k);
        if (t.open && close !== undefined && close < to && close > k + 1 && depth < MAX_DEPTH) {
          const c = [];
          build(toks, k + 1, close, depth + 1, closers, c);
          out.push({ t: t.kind === 'b' ? 'b' : t.kind === 's' ? 's' : 'i', c });
          k = close;
        } else pushText(out, t.v);
      }
    }
  }
}
