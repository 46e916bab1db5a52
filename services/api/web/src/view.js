// What every section writes with: the element lookup, HTML escaping, and words in the chosen language.
import { t } from './i18n.js';
import { state } from './state.js';

export const $ = (selector) => document.querySelector(selector);
export const tr = (key) => t(state.lang, key);
export const name = (value) => (state.lang === 'vi' ? value.name_vi : value.name_en);
export const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
