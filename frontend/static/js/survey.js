// Survey page: blind token when the page opens, then an unlinkable ballot, sealed in the browser
// (docs/ANONYMITY.md, sections 1 and 5).

import { RSABSSA } from "../vendor/blindrsa/blindrsa.mjs";
import { sealBallot } from "./seal.js";

const form = document.getElementById("pulse-survey");
const d = form?.dataset || {};
const suite = RSABSSA.SHA384.PSS.Randomized();

const WARNING = "Your comment seems to contain a name, email address or phone number. Comments are shown to leaders word for word; consider removing details that identify anyone, including you.";
const GENERIC = "Your answers could not be sent. Check your connection and try again.";
const TELL = " Nothing was sent. Please tell the survey organiser.";

class PageError extends Error {} // message meant for the respondent

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const sha256 = async (b) => hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b)));
const b64url = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const byId = (id) => document.getElementById(id);
const errorOf = (res) => res.json().then((j) => (j && j.error) || {}, () => ({}));
const json = { "Content-Type": "application/json" };

function showOnly(id) {
	form.hidden = true;
	const el = byId(id);
	if (el) el.hidden = false;
	return el;
}

function say(text, error = false) {
	const el = byId("survey-status") || {};
	el.textContent = text;
	el.className = text ? (error ? "alert alert-error" : "alert alert-info") : "";
}

// The token stays in IndexedDB until its ballot is in.
function idb(mode, op) {
	return new Promise((resolve, reject) => {
		const open = indexedDB.open("pulse", 1);
		open.onupgradeneeded = () => open.result.createObjectStore("tokens");
		open.onerror = () => reject(open.error);
		open.onsuccess = () => {
			const db = open.result;
			const tx = db.transaction("tokens", mode);
			const req = op(tx.objectStore("tokens"), "round:" + d.round);
			tx.oncomplete = () => (db.close(), resolve(req.result));
			tx.onerror = tx.onabort = () => (db.close(), reject(tx.error));
		};
	});
}
const loadToken = () => idb("readonly", (s, k) => s.get(k)).catch(() => null);

let token = null; // also here in case IndexedDB fails
let blinding = null; // a retried issuance resends the same blinded message
let manifest = null; // { box, key, pool } once checked
let issuing = null; // the issuance started when the page opened, while in flight

// Pulse never lets a group smaller than this be reported on (docs/ANONYMITY.md, section 3).
const MIN_K = 3;

const listOf = (names) => (names.length < 2 ? names.join("") : names.slice(0, -1).join(", ") + " and " + names[names.length - 1]);

// linkSecret is the invitation link's secret, the last part of this page's path.
const linkSecret = () => location.pathname.split("/").filter(Boolean).pop() || "";

// loadManifest fetches the round's key manifest and checks it before anything is sent: the
// same bytes as everyone's (the page's fingerprint), this page's unit and key in it, and that
// unit pooling at least k invitees. A server that gave one person a key of their own would
// fail here, in that person's browser.
async function loadManifest() {
	const res = await fetch(d.manifestUrl, { cache: "no-store", credentials: "same-origin", headers: { "X-Pulse-Link": linkSecret() } });
	if (!res.ok) throw new PageError(GENERIC);
	const bytes = new Uint8Array(await res.arrayBuffer());
	// Same keys for everyone: a personal key would mark its holder's ballot.
	if ((await sha256(bytes)) !== (d.manifestHash || "").toLowerCase()) {
		throw new PageError("The survey's keys differ from this page's, so anonymity is not assured." + TELL);
	}
	const m = JSON.parse(new TextDecoder().decode(bytes));
	const entry = m.version === "pulse-manifest/v2" && String(m.round) === d.round &&
		m.keys?.find((k) => String(k.unit) === d.unit && k.key_id === d.keyId);
	const spki = entry && unb64url(entry.spki);
	if (!spki || (await sha256(spki)) !== d.keyId) throw new PageError("Your team's key is missing from the survey's key list." + TELL);
	const k = m.min_group_size;
	if (!Number.isInteger(k) || k < MIN_K || !Number.isInteger(entry.invited) || entry.invited < k) {
		throw new PageError(`The survey's key list does not pool your answers with at least ${Math.max(k || 0, MIN_K)} people, so anonymity is not assured.` + TELL);
	}
	const key = await crypto.subtle.importKey("spki", spki, { name: "RSA-PSS", hash: "SHA-384" }, true, ["verify"]);
	const teams = Array.isArray(entry.teams) ? entry.teams.map(String) : [];
	return { box: m.box || null, key, pool: { invited: entry.invited, teams } };
}

function showPool({ invited, teams }) {
	const el = byId("pooling");
	if (!el) return;
	el.textContent = `Your answers are pooled with ${invited} people${teams.length ? " of " + listOf(teams) : ""}.`;
	el.hidden = false;
}

async function issueToken() {
	if (!blinding) {
		const key = manifest.key;
		const nonce = hex(crypto.getRandomValues(new Uint8Array(32)));
		const prepared = suite.prepare(new TextEncoder().encode(`pulse/v1|${d.round}|${d.unit}|${nonce}`));
		blinding = { key, prepared, ...(await suite.blind(key, prepared)) };
	}
	const secret = linkSecret();
	const body = JSON.stringify({ secret, blinded_msg: b64url(blinding.blindedMsg) });
	const res = await fetch(d.issueUrl, { method: "POST", credentials: "same-origin", headers: json, body });
	if (!res.ok) throw new PageError((await errorOf(res)).message || GENERIC);
	const { key, prepared, inv } = blinding;
	let sig; // finalize also verifies it
	try {
		sig = await suite.finalize(key, prepared, unb64url((await res.json()).blind_sig), inv);
	} catch {
		throw new PageError("The server's signature does not match the survey's key." + TELL);
	}
	blinding = null;
	token = { round: Number(d.round), keyId: d.keyId, message: b64url(prepared), signature: b64url(sig) };
	await idb("readwrite", (s, k) => s.put(token, k)).catch(() => {});
}

// answers returns {questionID: 1..5}, or null after flagging the first one missing.
function answers() {
	const out = {};
	const missing = [];
	for (const fs of form.querySelectorAll("fieldset[data-question-id]")) {
		fs.querySelector(".field-error")?.remove();
		fs.removeAttribute("aria-invalid");
		fs.removeAttribute("aria-describedby");
		const checked = fs.querySelector("input[type=radio]:checked");
		if (checked) out[fs.dataset.questionId] = Number(checked.value);
		else missing.push(fs);
	}
	if (!missing.length) return out;
	const fs = missing[0];
	const id = "error-q-" + fs.dataset.questionId;
	const msg = Object.assign(document.createElement("p"), { id, className: "field-error", textContent: "Please choose an answer." });
	const legend = fs.querySelector("legend");
	legend ? legend.after(msg) : fs.prepend(msg);
	fs.setAttribute("aria-invalid", "true");
	fs.setAttribute("aria-describedby", id);
	say(`Please answer every question (${missing.length} still unanswered).`, true);
	fs.querySelector("input[type=radio]")?.focus();
	return null;
}

// ballotBody is the ballot request: sealed to the round's box key, or in clear for a round
// launched before sealed ballots (its manifest has no box key).
async function ballotBody(given) {
	const { keyId: key_id, message, signature } = token;
	const comment = byId("comment")?.value.trim() || "";
	if (!manifest.box) return JSON.stringify({ key_id, message, signature, answers: given, comment });
	const sealed = await sealBallot(manifest.box, d.round, unb64url(message), given, comment);
	return JSON.stringify({ key_id, message, signature, sealed: b64url(sealed) });
}

async function submit(event) {
	event.preventDefault();
	if (!manifest) return say("The survey's keys are still being checked. Please try again in a moment.", true);
	const given = answers();
	if (!given) return;
	const button = form.querySelector("button[type=submit]");
	if (button) button.disabled = true;
	let done = false;
	try {
		if (!token && issuing) await issuing.catch(() => {}); // answered within a second of opening
		token ||= await loadToken(); // reuse a token from an earlier attempt
		if (!token) {
			// The token is normally fetched when the page opens. Fetching it now and sending the
			// ballot straight after would put the two requests side by side, so ask for a second click.
			say("Securing your anonymous token…");
			await issueToken();
			say("Your anonymous token is ready. Press “Send my answers” again to send your answers.");
			return;
		}
		say("Sealing and sending your answers…");
		const body = await ballotBody(given);
		const res = await fetch(d.ballotUrl, {
			method: "POST", credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store", headers: json, body,
		});
		// token_spent: an earlier attempt got through, its reply was lost.
		const err = res.status === 201 ? null : await errorOf(res);
		if (err && !(res.status === 409 && err.code === "token_spent")) throw new PageError(err.message || GENERIC);
		done = true;
		token = null;
		await idb("readwrite", (s, k) => s.delete(k)).catch(() => {});
		showOnly("thank-you")?.focus();
	} catch (e) {
		say(e instanceof PageError ? e.message : GENERIC, true);
	} finally {
		if (button && !done) button.disabled = false;
	}
}

// Comment warning (never sent).
const ROLE = /\b(?:[Mm]anager|[Bb]oss|[Ll]ead(?:er)?|[Cc]olleague|[Tt]eammate)s?,?\s+\p{Lu}/u;
const PAIR = /\p{Lu}\p{Ll}+(?=\s+\p{Lu}\p{Ll}+)/gu;

function identifying(text) {
	if (/[^\s@]+@[^\s@]+\.[^\s@]{2,}/.test(text) || ROLE.test(text)) return true;
	if (/\+?\d(?:[\s-]*\d){6,}/.test(text.replace(/\b\d{4}-\d\d-\d\d\b/g, ""))) return true;
	// Two Capitalised words, the first not starting a sentence.
	for (const m of text.matchAll(PAIR)) {
		if (!/(?:^|[.!?…]["'”’)]*|\n)\s*$/.test(text.slice(0, m.index))) return true;
	}
	return false;
}

function watchComment() {
	const comment = byId("comment");
	const warning = byId("comment-warning");
	let timer;
	comment?.addEventListener("input", () => {
		clearTimeout(timer);
		timer = setTimeout(() => {
			const on = identifying(comment.value);
			if (!warning || on === !warning.hidden) return; // announce changes only
			warning.hidden = !on;
			warning.textContent = on ? WARNING : "";
		}, 400);
	});
}

// refuse replaces the form with why nothing can be sent.
function refuse(message) {
	const el = showOnly("survey-refused");
	const text = byId("survey-refused-reason");
	if (text) text.textContent = message;
	el?.focus();
}

async function init() {
	if (!form) return;
	if (!window.isSecureContext) return showOnly("insecure-context");
	// First of all: the form must never be submitted natively (its answers would travel in clear).
	form.addEventListener("submit", submit);
	watchComment();
	try {
		manifest = await loadManifest();
	} catch (e) {
		return refuse(e instanceof PageError ? e.message : GENERIC);
	}
	showPool(manifest.pool);
	if (d.state === "issued") {
		token = await loadToken();
		if (!token) return showOnly("already-answered");
		say("Your anonymous token is ready: answer and send.");
	}
	form.hidden = false;
	if (d.state !== "issued") {
		// The token is issued now, while the employee reads the questions: the ballot follows
		// minutes later in its own request, not next to the issuance.
		try {
			await (issuing = issueToken().finally(() => (issuing = null)));
			say("Your anonymous token is ready: answer and send.");
		} catch (e) {
			say(e instanceof PageError ? e.message : "Your anonymous token could not be fetched yet; it will be when you send.", true);
		}
	}
}

init();
