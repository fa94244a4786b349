/** The ~300-byte chat request every HTTP benchmark sends (system + user message). */
export const CHAT_BODY = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a concise assistant for a travel company. Answer in one or two sentences.' },
    { role: 'user', content: 'What is the capital of France, and which museum there should a first-time visitor not miss?' },
  ],
  temperature: 0.2,
  max_tokens: 200,
  user: 'bench-user-42',
};

/** An ordinary prompt: prose, numbers, a little code; benchmarks take a prefix and pad it to the size they need. */
export const LOGISTICS_PROMPT_LINES = [
  'I am preparing the quarterly review for our logistics team and need help structuring it.',
  'Last quarter we shipped 48,213 parcels from the Rotterdam and Leipzig depots, with an on-time rate of 96.4 percent.',
  'Returns went down from 3.1 to 2.7 percent after we changed the packaging supplier in August.',
  'Please draft an outline with sections for volume, quality, cost, and the three projects we started:',
  'route optimisation (version 2.3 of the planner), the new scanner firmware, and the driver onboarding programme.',
  'Keep the tone factual and friendly, avoid jargon, and suggest two charts for each section.',
  'Here is the function we use to compute the on-time rate: `const rate = onTime / total * 100;`',
  'Also list open questions for the finance team, e.g. how fuel surcharges were booked between July and September,',
  'and whether the warehouse lease renewal (due 2027-03-31) changes the cost baseline for next year.',
];

/** The first `lines` of the logistics prompt, padded or cut to exactly 1,024 characters. */
export function kilobytePrompt(lines = LOGISTICS_PROMPT_LINES.length): string {
  return LOGISTICS_PROMPT_LINES.slice(0, lines).join(' ').padEnd(1024, ' Thank you for the help.').slice(0, 1024);
}
