// Durations, times and countdowns in plain words.
const UNIT = { d: 86400e3, h: 3600e3, m: 60e3, s: 1e3 };

// "3h", "90m", "1h30m", "1.5h", "2" (hours), "PT3H", "P1DT2H" → milliseconds, or null when unreadable.
export function parseDuration(text) {
	const s = String(text ?? "").trim().toLowerCase().replace(/\s+/g, "");
	if (!s) return null;
	if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * UNIT.h);
	let m = /^p(?:(\d+(?:\.\d+)?)d)?(?:t(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?)?$/.exec(s);
	if (m && s !== "p" && s !== "pt" && !s.endsWith("t")) {
		return Math.round((Number(m[1] || 0) * UNIT.d) + Number(m[2] || 0) * UNIT.h + Number(m[3] || 0) * UNIT.m + Number(m[4] || 0) * UNIT.s);
	}
	m = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)(?:m|min))?(?:(\d+(?:\.\d+)?)s)?$/.exec(s);
	if (m && (m[1] || m[2] || m[3] || m[4]))
		return Math.round(Number(m[1] || 0) * UNIT.d + Number(m[2] || 0) * UNIT.h + Number(m[3] || 0) * UNIT.m + Number(m[4] || 0) * UNIT.s);
	return null;
}

// milliseconds → ISO 8601 ("PT3H", "PT1H30M", "P1DT2H")
export function isoDuration(ms) {
	let s = Math.max(0, Math.round(ms / 1000));
	const d = Math.floor(s / 86400);
	s -= d * 86400;
	const h = Math.floor(s / 3600);
	s -= h * 3600;
	const m = Math.floor(s / 60);
	s -= m * 60;
	let t = "";
	if (h) t += `${h}H`;
	if (m) t += `${m}M`;
	if (s) t += `${s}S`;
	if (!d && !t) return "PT0S";
	return `P${d ? d + "D" : ""}${t ? "T" + t : ""}`;
}

// milliseconds → "3 h", "1 h 30 min", "45 min", "1 d 2 h"
export function humanDuration(ms) {
	if (ms == null || !isFinite(ms)) return "";
	let m = Math.round(ms / 60e3);
	if (m < 1) return `${Math.max(0, Math.round(ms / 1000))} s`;
	const d = Math.floor(m / 1440);
	m -= d * 1440;
	const h = Math.floor(m / 60);
	m -= h * 60;
	return [d && `${d} d`, h && `${h} h`, m && `${m} min`].filter(Boolean).join(" ");
}

// an editable text for a duration: "3h", "1h30m", "45m"
export function shortDuration(ms) {
	let m = Math.round(ms / 60e3);
	const h = Math.floor(m / 60);
	m -= h * 60;
	return `${h ? h + "h" : ""}${m ? m + "m" : ""}` || "0m";
}

// remaining milliseconds → "2:59:58" (or "59:58")
export function countdown(ms) {
	let s = Math.max(0, Math.floor(ms / 1000));
	const h = Math.floor(s / 3600);
	s -= h * 3600;
	const m = Math.floor(s / 60);
	s -= m * 60;
	const p = (n) => String(n).padStart(2, "0");
	return h ? `${h}:${p(m)}:${p(s)}` : `${m}:${p(s)}`;
}

export function countdownWords(ms) {
	return `${humanDuration(ms)} left`;
}

const dtf = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const dtfSec = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
// The server's times carry 7 fraction digits, as Azure's do; JavaScript's date format defines 3,
// and more is each browser's choice: cut them to milliseconds before parsing. NaN when absent or bad.
export const timeMs = (iso) => Date.parse(String(iso || "").replace(/(\.\d{3})\d+/, "$1"));
export const fmtTime = (iso) => (iso ? dtf.format(new Date(timeMs(iso))) : "");
export const fmtTimeSec = (iso) => (iso ? dtfSec.format(new Date(timeMs(iso))) : "");

export function relTime(iso, now = Date.now()) {
	if (!iso) return "";
	const d = now - timeMs(iso);
	if (d < 60e3) return "just now";
	if (d < 3600e3) return `${Math.round(d / 60e3)} min ago`;
	if (d < 86400e3) return `${Math.round(d / 3600e3)} h ago`;
	return `${Math.round(d / 86400e3)} d ago`;
}

// "token:alice" → "alice"
export const who = (caller) => String(caller || "").replace(/^token:/, "");
