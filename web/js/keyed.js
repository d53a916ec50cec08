// Keyed rendering: a container shows a list of items, each {key, sig,
// make}; a render touches only the items that are new or whose signature
// changed, and moves or removes the rest. So a selection, Ctrl-F's place
// and keyboard focus survive re-rendering.

export class Keyed {
  constructor(container) {
    this.container = container;
    this.shown = new Map(); // key -> {node, sig}
  }

  clear() {
    this.container.replaceChildren();
    this.shown.clear();
  }

  node(key) {
    const entry = this.shown.get(key);
    return entry ? entry.node : null;
  }

  update(items) {
    const keep = new Set();
    let prev = null;
    for (const item of items) {
      keep.add(item.key);
      let entry = this.shown.get(item.key);
      if (!entry || entry.sig !== item.sig) {
        const node = item.make();
        if (entry) entry.node.replaceWith(node);
        entry = { node, sig: item.sig };
        this.shown.set(item.key, entry);
      }
      const next = prev ? prev.nextSibling : this.container.firstChild;
      if (next !== entry.node) this.container.insertBefore(entry.node, next);
      prev = entry.node;
    }
    for (const [key, entry] of this.shown) {
      if (!keep.has(key)) { entry.node.remove(); this.shown.delete(key); }
    }
  }
}
