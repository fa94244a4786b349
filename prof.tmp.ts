import { compileGuardrail } from './src/guardrails/compile.js';
import { guardrailSchema } from './src/guardrails/guardrail-schema.js';
const text = ('I am preparing the quarterly review for our logistics team and need help structuring it. Last quarter we shipped 48,213 parcels from the Rotterdam and Leipzig depots, with an on-time rate of 96.4 percent. Returns went down from 3.1 to 2.7 percent after we changed the packaging supplier in August. Please draft an outline with sections for volume, quality, cost, and the three projects we started: route optimisation (version 2.3 of the planner), the new scanner firmware, and the driver onboarding programme. Keep the tone factual and friendly, avoid jargon, and suggest two charts for each section. Here is the function we use to compute the on-time rate: `const rate = onTime / total * 100;` Also list open questions for the finance team, e.g. how fuel surcharges were booked between July and September, and whether the warehouse lease renewal (due 2027-03-31) changes the cost baseline for next year.').padEnd(1024, ' Thank you for the help.');
for (const raw of [{ type: 'pii' }, { type: 'toxicity' }, { type: 'prompt_injection' }, { type: 'compliance', config: { rule_sets: ['hipaa', 'financial_advice'] } }]) {
  const g = compileGuardrail(guardrailSchema.parse({ name: 'x', mode: 'flag', ...raw }));
  const f = (g.check as any).sync;
  for (let i = 0; i < 5000; i++) f(text);
  const c = process.cpuUsage();
  for (let i = 0; i < 5000; i++) f(text);
  const u = process.cpuUsage(c);
  console.log(raw.type, ((u.user + u.system) / 5000).toFixed(1), 'us cpu');
}
