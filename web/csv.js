// csv.js - CSV text as RFC 4180 has it (fields with a comma, a quote, a
// line break or an outer space quoted, quotes doubled, CRLF line ends) and
// the download of a text as a file from the page.

export function csvField(v) {
  const s = v == null ? "" : String(v);
  return /[",\r\n]|^ | $/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(header, rows) {
  return [header, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/* Offers `text` as a download named `filename`. */
export function download(filename, text, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
