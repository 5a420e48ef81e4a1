// A small dictionary: Vietnamese first, English on request. Elements carry data-i18n="key"
// (text), data-i18n-placeholder, data-i18n-aria (aria-label) or data-i18n-title.
import { vi, en } from "./strings.js";

const dicts = { vi, en };
const KEY = "cityops.lang";
let lang = (() => {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "vi" || saved === "en") return saved;
  } catch {
    /* storage disabled */
  }
  return document.documentElement.lang === "en" ? "en" : "vi";
})();

export function getLang() {
  return lang;
}

export function t(key, vars) {
  let s = dicts[lang][key] ?? dicts.vi[key] ?? key;
  if (s === key && key.includes(".")) s = key.slice(key.indexOf(".") + 1).replaceAll("_", " "); // unknown: readable
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

export function setLang(next) {
  lang = next === "en" ? "en" : "vi";
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    /* storage disabled */
  }
  document.documentElement.lang = lang;
  applyI18n(document);
  document.dispatchEvent(new CustomEvent("langchange", { detail: lang }));
}

/** Wire a button that toggles the language; its label names the other language. */
export function langToggle(button) {
  const label = () => {
    button.textContent = lang === "vi" ? "English" : "Tiếng Việt";
    button.setAttribute("lang", lang === "vi" ? "en" : "vi");
  };
  label();
  button.addEventListener("click", () => {
    setLang(lang === "vi" ? "en" : "vi");
    label();
  });
  document.documentElement.lang = lang;
  applyI18n(document);
}

/** The localised name of a record with name_vi / name_en (or name) fields. */
export function nameOf(obj) {
  if (!obj) return "";
  return (lang === "en" ? obj.name_en : obj.name_vi) || obj.name || obj.name_vi || obj.code || "";
}
