// Building the page from data without ever parsing data as HTML: every value goes in as text (no innerHTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function $(selector) {
  return document.querySelector(selector);
}

// Screen readers hear live updates (a new message, a published report) through one polite status region.
export function announce(text) {
  const region = document.getElementById('announcer');
  if (region) region.textContent = text;
}

export function showError(where, error) {
  fill(where, h('p', { class: 'error', role: 'alert', text: error && error.message ? error.message : String(error) }));
}

export function formatDate(value) {
  if (!value) return '';
  const date = value instanceof Date ? value : new Date(value.iso || value);
  return date.toISOString().slice(0, 10);
}

export function formatDateTime(value) {
  if (!value) return '';
  const date = value instanceof Date ? value : new Date(value.iso || value);
  return date.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

// A labelled form control: the label's `for` ties it to the input, so assistive tech and getByLabel find it.
let nextId = 0;
export function field(label, control) {
  const id = control.id || `f${++nextId}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control);
}
