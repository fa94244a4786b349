const text = ('I am preparing the quarterly review for our logistics team and need help structuring it. Last quarter we shipped 48,213 parcels from the Rotterdam and Leipzig depots, with an on-time rate of 96.4 percent. Returns went down from 3.1 to 2.7 percent after we changed the packaging supplier in August. Please draft an outline with sections for volume, quality, cost, and the three projects we started: route optimisation (version 2.3 of the planner), the new scanner firmware, and the driver onboarding programme. Keep the tone factual and friendly, avoid jargon, and suggest two charts for each section. Here is the function we use to compute the on-time rate: `const rate = onTime / total * 100;` Also list open questions for the finance team, e.g. how fuel surcharges were booked between July and September, and whether the warehouse lease renewal (due 2027-03-31) changes the cost baseline for next year.').padEnd(1024, ' Thank you for the help.');
const hints = ['ignor', 'disregard', 'forget', 'overrid', 'bypass', 'skip', 'drop', 'abandon', 'discard', 'neglect', 'set aside', 'follow', 'vergiss', 'oublie', 'olvida','instruction', 'directive', 'system prompt','from now on', 'henceforth', 'for the rest of','your new', 'your real', 'your only', 'your true','system', 'prompt', 'hidden', 'developer','above', 'before', 'preceding','begin your', 'start your','dan', 'do anything', 'stan', 'dude', 'aim mode', 'jailbr',' mode','pretend', 'imagine', 'act as', 'roleplay', 'role-play', 'you are now', "you're now", 'behave as', 'simulate','you are no longer', 'you are not','refuse', 'never say', 'never tell', 'answer every', 'answer any','character','im_start', '|system|', 'inst]', '<<sys>>', '###', 'end of', '---','decode', 'base64', 'rot13', 'reverse'];
const N = 5000;
function t(name: string, f: () => unknown) { for (let i = 0; i < N; i++) f(); const c = process.cpuUsage(); for (let i = 0; i < N; i++) f(); const u = process.cpuUsage(c); console.log(name, ((u.user + u.system) / N).toFixed(2)); }
t('lower', () => text.toLowerCase());
const lower = text.toLowerCase();
t('includes x70', () => hints.filter((h) => lower.includes(h)).length);
const any = new RegExp(hints.map((h) => h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'i');
t('any regex', () => any.test(text));
const anyl = new RegExp(hints.map((h) => h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
t('any regex lower', () => anyl.test(lower));
const words = /[a-z]+/g;
t('word set', () => { const s = new Set(lower.match(words)); return s.size; });
t('nfkc', () => text.normalize('NFKC'));
t('nonascii', () => /[^\x00-\x7F]/.test(text));
t('spaced', () => /\b[A-Za-z][ ._-][A-Za-z][ ._-][A-Za-z][ ._-][A-Za-z]\b/.test(text));
