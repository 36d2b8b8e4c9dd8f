// Read .ics files with Mozilla's ical.js (Thunderbird's parser) and print, as JSON, what it shows:
// every VEVENT with its occurrences (recurrences expanded, EXDATEs applied) and its alarms.
// Usage: node icaljs_dump.mjs ICAL_JS_FILE FILE.ics...   (ICAL_JS_FILE: node_modules/ical.js/dist/ical.js)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [, , library, ...files] = process.argv;
const ICAL = (await import(pathToFileURL(library).href)).default;
const LIMIT = 2000; // occurrences per event: far above a year of weekly classes

function when(t) {
  return t.isDate ? { date: t.toString() } : { local: t.toString().slice(0, 16), utc: t.toUnixTime(), zone: t.zone ? t.zone.tzid : null };
}

const out = {};
for (const file of files) {
  const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf-8")));
  for (const vtz of root.getAllSubcomponents("vtimezone")) ICAL.TimezoneService.register(vtz);
  const events = [];
  for (const vevent of root.getAllSubcomponents("vevent")) {
    const event = new ICAL.Event(vevent);
    const occurrences = [];
    if (event.isRecurring()) {
      const it = event.iterator();
      for (let next = it.next(); next && occurrences.length < LIMIT; next = it.next()) {
        const d = event.getOccurrenceDetails(next);
        occurrences.push([when(d.startDate), when(d.endDate)]);
      }
    } else {
      occurrences.push([when(event.startDate), when(event.endDate)]);
    }
    events.push({
      uid: event.uid, summary: event.summary, status: vevent.getFirstPropertyValue("status"),
      occurrences,
      alarms: vevent.getAllSubcomponents("valarm").map((a) => a.getFirstPropertyValue("trigger").toString()),
    });
  }
  out[file] = { method: root.getFirstPropertyValue("method"), uid: root.getFirstPropertyValue("uid"), events };
}
process.stdout.write(JSON.stringify(out));
