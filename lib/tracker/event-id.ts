import { randomFillSync } from 'node:crypto';

/** Ids written per block: one `randomFillSync` for this many events. */
const IDS_PER_BLOCK = 128;
/** `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` */
const ID_LENGTH = 36;

const random = Buffer.allocUnsafeSlow(16 * IDS_PER_BLOCK);
const text = Buffer.allocUnsafeSlow(ID_LENGTH * IDS_PER_BLOCK);
/** Lower-case hex digits, as `crypto.randomUUID()` writes them. */
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 0x2d;

/** `next`: the index of the next id of the current block in `text`. */
let next = IDS_PER_BLOCK;

/** Writes the next block of ids from fresh random bytes (the version and variant bits of RFC 9562 set). */
function refill(): void {
  randomFillSync(random);
  let out = 0;
  for (let base = 0; base < random.length; base += 16) {
    random[base + 6] = (random[base + 6] & 0x0f) | 0x40;
    random[base + 8] = (random[base + 8] & 0x3f) | 0x80;
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = DASH;
      const byte = random[base + i];
      text[out++] = HEX[byte >> 4];
      text[out++] = HEX[byte & 0x0f];
    }
  }
  next = 0;
}

/**
 * A random (version 4) UUID, as `crypto.randomUUID()` makes one: from the same CSPRNG, in the same
 * lower-case form. `randomUUID()` builds its string from 21 pieces, which reading it then copies
 * into one (about 2,500 instructions per event, and garbage for the scavenger); here the random
 * bytes and hex digits of 128 ids are written at once, and each id is a flat 36-character string
 * of its own, copied out of them. (A slice of one string per block would be cheaper still, but V8
 * keeps such a slice pointing at the whole block: an id a caller keeps would hold 4.6 KB.)
 */
export function eventId(): string {
  if (next === IDS_PER_BLOCK) refill();
  const start = next++ * ID_LENGTH;
  return text.toString('latin1', start, start + ID_LENGTH);
}
