/**
 * Upper bounds on the input tokens of attachments (images, PDFs and other documents, files,
 * audio), from what the request carries. A flat guess per attachment let five ~600 KB PDFs fit
 * reservations they then overran twentyfold, so documents and audio are bounded by their size.
 */

/**
 * Above what any provider bills for one image, whatever its size, since each resizes large
 * images to a cap: Anthropic about 1,600 tokens (1.15 MP), OpenAI up to 1,536 patches times the
 * model's multiplier (2.46 for the nano models: ~3,780), Gemini 16 tiles of 258 (3072 x 3072).
 */
export const TOKENS_PER_IMAGE = 4_200;
/**
 * Anthropic bills each PDF page as its text (1,500-3,000 tokens) plus an image of the page
 * (at most ~1,600): a page found in the file reserves the sum.
 */
const TOKENS_PER_PDF_PAGE = 4_600;
/**
 * A document's decoded bytes bound its tokens when its pages cannot be counted: text extracted
 * from a file is at most about one token per byte of it once compression is accounted for, and
 * the whole prompt is capped by the model's context window in any case.
 */
const TOKENS_PER_DOCUMENT_BYTE = 1;
/**
 * Audio is billed by duration (Gemini 32 tokens a second, OpenAI about 10): even a 6 kbit/s
 * Opus stream carries 750 bytes a second, so one token per 8 bytes stays above any of them.
 */
const AUDIO_BYTES_PER_TOKEN = 8;
/**
 * Gemini bills video at about 300 tokens a second (258 per frame sampled at 1 fps, plus 32 for
 * the sound): even a 10 kbit/s clip (1,250 bytes a second) stays under 4 bytes per token.
 */
const VIDEO_BYTES_PER_TOKEN = 4;
/** Page objects in a PDF body (`/Type /Page`, not `/Pages`). */
const PDF_PAGE = /\/Type\s*\/Page(?![a-zA-Z])/g;

/** A bound on an attachment whose size the gateway cannot see (a URL or an uploaded file id): the whole context window. */
export const UNKNOWN_SIZE = Number.POSITIVE_INFINITY;

/** Decoded length of base64 text (a data: URL's payload or a bare base64 string). */
function base64Bytes(data: string): number {
  const comma = data.startsWith('data:') ? data.indexOf(',') : -1;
  const payload = comma === -1 ? data : data.slice(comma + 1);
  let padding = 0;
  if (payload.endsWith('==')) padding = 2;
  else if (payload.endsWith('=')) padding = 1;
  return Math.max(0, Math.floor((payload.length * 3) / 4) - padding);
}

/** Pages counted in a base64 PDF, 0 when none are visible (compressed object streams hide them). */
function pdfPages(data: string): number {
  const comma = data.startsWith('data:') ? data.indexOf(',') : -1;
  const bytes = Buffer.from(comma === -1 ? data : data.slice(comma + 1), 'base64').toString('latin1');
  return bytes.match(PDF_PAGE)?.length ?? 0;
}

/** A document (PDF or any other file) carried as base64: its pages, else its size. */
function documentTokens(data: string): number {
  return Math.max(pdfPages(data) * TOKENS_PER_PDF_PAGE, Math.ceil(base64Bytes(data) * TOKENS_PER_DOCUMENT_BYTE));
}

function audioTokens(data: string): number {
  return Math.ceil(base64Bytes(data) / AUDIO_BYTES_PER_TOKEN);
}

/** The MIME type of a `data:` URL, lower-cased; '' when it names none. */
function dataUrlMime(url: string): string {
  const end = url.search(/[;,]/);
  return end === -1 ? '' : url.slice(5, end).trim().toLowerCase();
}

/**
 * An image part's URL by what it really carries. Gemini passes any data: URL's MIME type on (a
 * PDF, audio or video sent as `image_url` is read as such), and fetches https URLs by their
 * extension, so those are bounded like files; OpenAI and Anthropic refuse what is not an image.
 */
function imageUrlTokens(url: string): number {
  if (url.startsWith('data:')) {
    const mime = dataUrlMime(url);
    if (mime === '' || mime.startsWith('image/')) return TOKENS_PER_IMAGE;
    if (mime.startsWith('audio/')) return audioTokens(url);
    if (mime.startsWith('video/')) return Math.ceil(base64Bytes(url) / VIDEO_BYTES_PER_TOKEN);
    return documentTokens(url);
  }
  // The only non-image extension Gemini's URL parts recognise (providers/gemini/translate-request.ts).
  if (/\.pdf$/i.test(url.split(/[?#]/, 1)[0] ?? '')) return UNKNOWN_SIZE;
  return TOKENS_PER_IMAGE;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * The bound for one content part or block if it is an attachment, else undefined (the caller
 * counts it as text). Understands the shapes of every surface: OpenAI chat (`image_url`, `file`,
 * `input_audio`), the Responses API (`input_image`, `input_file`, `input_audio`) and Anthropic
 * (`image` and `document` with a `base64`, `text`, `url` or `file` source).
 */
export function attachmentTokens(part: Record<string, unknown>): number | undefined {
  const type = str(part['type']) ?? '';
  if (type === 'image_url' || type === 'input_image') {
    const image = part['image_url'];
    const url = isRecord(image) ? str(image['url']) : str(image);
    return url === undefined ? TOKENS_PER_IMAGE : imageUrlTokens(url);
  }
  if (type === 'image') return TOKENS_PER_IMAGE;
  if (type === 'input_audio') {
    const audio = isRecord(part['input_audio']) ? part['input_audio'] : part;
    const data = str(audio['data']);
    return data === undefined ? UNKNOWN_SIZE : audioTokens(data);
  }
  if (type === 'file' || type === 'input_file') {
    const file = isRecord(part['file']) ? part['file'] : part;
    const data = str(file['file_data']);
    return data === undefined ? UNKNOWN_SIZE : documentTokens(data);
  }
  if (type === 'document') {
    const source = isRecord(part['source']) ? part['source'] : {};
    const data = str(source['data']);
    if (source['type'] === 'base64' && data !== undefined) return documentTokens(data);
    // Plain-text and content-block documents are counted as text by the caller.
    if (source['type'] === 'text' || source['type'] === 'content') return undefined;
    return UNKNOWN_SIZE;
  }
  return undefined;
}
