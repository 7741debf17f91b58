/**
 * Element helpers. Text only ever goes in through `textContent` and attribute values through
 * `setAttribute`; nothing here parses HTML.
 */

export const SVG_NS = 'http://www.w3.org/2000/svg';

type Attrs = { [name: string]: string | number | boolean | null | undefined };

function applyAttrs(el: Element, attrs?: Attrs): void {
  if (!attrs) {
    return;
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) {
      continue;
    }
    if (k === 'class') {
      el.setAttribute('class', String(v));
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/** An HTML element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** An SVG element with attributes and children. */
export function s(tag: string, attrs?: Attrs, ...children: (Node | string | null | undefined)[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  applyAttrs(el, attrs);
  for (const c of children) {
    if (c === null || c === undefined) {
      continue;
    }
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) {
    el.removeChild(el.firstChild);
  }
}

/**
 * Handle keys pressed inside `root` before JupyterLab's shortcuts see them. JupyterLab listens
 * on the document in the capture phase, so a view's own listener would come too late (in a
 * notebook in command mode, `o` would toggle the output and `0 0` restart the kernel); a
 * capture listener on the window runs first, and a handled key is marked with preventDefault,
 * which JupyterLab's shortcut handling respects. Keys the handler does not take go on as usual.
 * Returns a function that removes the listener.
 */
export function captureKeys(root: Element, handler: (ev: KeyboardEvent) => boolean): () => void {
  const listener = (ev: KeyboardEvent) => {
    const target = ev.target as Node | null;
    if (!target || !root.contains(target) || ev.defaultPrevented) {
      return;
    }
    if (handler(ev)) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  };
  window.addEventListener('keydown', listener, true);
  return () => window.removeEventListener('keydown', listener, true);
}
