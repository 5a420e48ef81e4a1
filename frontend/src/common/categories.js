// Category questions in one language: labels and value names per locale (label/values are Vietnamese,
// label_en/values_en English; an empty English text falls back to the Vietnamese one), never a raw code.
import { getLang, nameOf } from "./i18n.js";

function pairs(list) {
  return (list || []).map((v) => (Array.isArray(v) ? { key: v[0], name: v[1] } : { key: v.key, name: v.name }));
}

export function questionLabel(q) {
  return (getLang() === "en" && q.label_en) || q.label || q.code;
}

/** [{key, name}] of a list question, in the current language. */
export function questionValues(q) {
  const vi = pairs(q.values);
  if (getLang() !== "en") return vi;
  const en = new Map(pairs(q.values_en).map((v) => [v.key, v.name]));
  return vi.map((v) => ({ key: v.key, name: en.get(v.key) || v.name }));
}

/** The answers of a case as [label, text] rows, with the category's labels and value names. */
export function answerRows(category, answers, fmtNumber) {
  const questions = new Map((category?.questions || []).map((q) => [q.code, q]));
  return Object.entries(answers || {}).map(([code, value]) => {
    const q = questions.get(code);
    if (!q) return [code, Array.isArray(value) ? value.join(", ") : String(value)];
    const names = new Map(questionValues(q).map((v) => [v.key, v.name]));
    const one = (v) => (typeof v === "number" ? fmtNumber(v, 2) : names.get(v) || String(v));
    return [questionLabel(q), Array.isArray(value) ? value.map(one).join(", ") : one(value)];
  });
}

export function categoryName(categories, code) {
  const c = (categories || []).find((x) => x.code === code);
  return c ? nameOf(c) : code || "";
}
