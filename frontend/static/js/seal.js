// Sealed ballots (docs/ANONYMITY.md, section 5): the survey page seals the answers and the
// comment to the round's box key before they leave the browser, so the server's database only
// ever holds ciphertext. HPKE (RFC 9180) base mode with X-Wing, HKDF-SHA256 and AES-128-GCM;
// the server opens with Go's crypto/hpke (survey/sealed.go, which holds the same format).

import { CipherSuite, HkdfSha256, Aes128Gcm, XWing } from "../vendor/hpke/hpke.mjs";

// Every ballot's plaintext is padded to this length, so the ciphertext's length says nothing
// about the comment.
export const PLAIN_LEN = 8448;
const SUITE = { kem: 0x647a, kdf: 0x0001, aead: 0x0001 };

const unb64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

// encodeBallot: format byte 1, answer count (uint16), each answer as question id (uint32) and
// value (uint8), comment length (uint16) and its UTF-8 bytes, zeros up to PLAIN_LEN. Big-endian.
export function encodeBallot(answers, comment) {
	const text = new TextEncoder().encode(comment);
	const ids = Object.keys(answers);
	const out = new Uint8Array(PLAIN_LEN);
	const view = new DataView(out.buffer);
	if (3 + ids.length * 5 + 2 + text.length > PLAIN_LEN) throw new RangeError("the ballot is too long to seal");
	out[0] = 1;
	view.setUint16(1, ids.length);
	let at = 3;
	for (const id of ids) {
		view.setUint32(at, Number(id));
		out[at + 4] = answers[id];
		at += 5;
	}
	view.setUint16(at, text.length);
	out.set(text, at + 2);
	return out;
}

// sealBallot seals a ballot to the manifest's box key for round, bound to the token's prepared
// message (associated data): encapsulated key followed by the ciphertext.
export async function sealBallot(box, round, prepared, answers, comment) {
	if (!box || box.kem_id !== SUITE.kem || box.kdf_id !== SUITE.kdf || box.aead_id !== SUITE.aead) {
		throw new Error("the survey's box key uses an unknown suite");
	}
	const suite = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
	const recipientPublicKey = await suite.kem.deserializePublicKey(unb64url(box.public_key));
	const info = new TextEncoder().encode(`pulse/ballot/v1|${round}`);
	const sender = await suite.createSenderContext({ recipientPublicKey, info });
	const ct = new Uint8Array(await sender.seal(encodeBallot(answers, comment), prepared));
	const enc = new Uint8Array(sender.enc);
	const out = new Uint8Array(enc.length + ct.length);
	out.set(enc);
	out.set(ct, enc.length);
	return out;
}
