/**
 * Text normalisation shared by the lexical index and the offline embedder: identifiers split into
 * words (camelCase, snake_case, kebab-case, digits), lower case, English stop words dropped, and a
 * light suffix stemmer so "files", "filing" and "filed" meet "file".
 */

const STOP_WORDS = new Set(
  ('a an and are as at be been being but by can could do does for from has have how i if in into is it its me my no not of on or our ' +
    'please so such than that the their them then there these they this those to up us via was we were what when where which while who will with ' +
    'would you your all any some using use used uses')
    .split(' '),
);

export const isStopWord = (word: string) => STOP_WORDS.has(word);

/** Splits on non-alphanumerics, then camelCase / PascalCase / letter-digit boundaries. */
export function splitWords(text: string): string[] {
  const spaced = text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([a-zA-Z])(\d)/g, '$1 $2')
    .replace(/(\d)([a-zA-Z])/g, '$1 $2');
  return spaced.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
}

const VOWEL = /[aeiouy]/;

/** Strips a final doubled consonant left by a suffix ("running" -> "runn" -> "run"), keeping ll/ss/zz words. */
function undouble(stem: string): string {
  const n = stem.length;
  if (n > 2 && stem[n - 1] === stem[n - 2] && !'aeiouylsz'.includes(stem[n - 1]!)) return stem.slice(0, -1);
  return stem;
}

/**
 * A light English stemmer (inflections and the commonest derivations), after the first steps of
 * Porter's algorithm: it only strips a suffix when a vowel stays in the stem, so short words stay whole.
 */
export function stem(word: string): string {
  if (word.length <= 3 || !/^[a-z]+$/.test(word)) return word;
  let w = word;
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.slice(0, -3) + 'y';
  else if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) w = w.slice(0, -1);
  const strip = (suffix: string, replacement = ''): boolean => {
    if (!w.endsWith(suffix)) return false;
    const base = w.slice(0, -suffix.length);
    if (base.length < 2 || !VOWEL.test(base)) return false;
    w = base + replacement;
    return true;
  };
  if (strip('ational', 'ate') || strip('ization', 'ize') || strip('isation', 'ize') || strip('ation', 'ate') || strip('ition', 'ite')) {
    // derivations folded onto their verb
  } else if (strip('ing') || strip('ed')) {
    w = undouble(w);
    // "creat(e)", "updat(e)": restore the e the suffix swallowed, the way Porter does for -at/-iz/-bl.
    if (/(at|iz|bl|ir|ov|us|ar|iv|od|ag|ut|ad)$/.test(w) && w.length <= 8) w += 'e';
  } else if (strip('ly') || strip('ment') || strip('ness')) {
    // adverbs and nouns of state
  } else if (w.endsWith('er') && w.length > 5) {
    strip('er');
    w = undouble(w);
    if (/(at|iz|bl|ir|ov|us|ar|iv|od|ag|ut|ad)$/.test(w) && w.length <= 8) w += 'e';
  }
  if (w.endsWith('e') && w.length > 4) w = w.slice(0, -1);
  if (w.endsWith('y') && w.length > 4) w = w.slice(0, -1) + 'i';
  return w;
}

/** Words of a text as index terms: split, lower-cased, stop words out, stemmed. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of splitWords(text)) {
    // Bare numbers are argument values ("page 2", "limit 20"), not what a tool does.
    if (STOP_WORDS.has(word) || /^\d+$/.test(word)) continue;
    out.push(stem(word));
  }
  return out;
}
