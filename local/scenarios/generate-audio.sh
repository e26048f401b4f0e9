#!/usr/bin/env bash
# Regenerates local/scenarios/audio/<say id>.ulaw for every say step of every scenario (espeak-ng → wav → sox -R → raw μ-law).
#
# Output: 8 kHz mono G.711 μ-law, headerless (what Twilio Media Streams carries). Leading and trailing silence are
# trimmed and internal silence is cut to at most 150 ms, so the STT emulator (speech bursts end after ≥ 250 ms of
# silence, CONTRACTS.md) hears each utterance as ONE burst. Tests use the committed files and never run this.
# Needs: espeak-ng, sox, node. Usage: local/scenarios/generate-audio.sh [scenario.json ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/audio"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ "$#" -eq 0 ]; then set -- "$here"/*.json; fi

# "<id>\t<text>" for every say step; a say id reused with a different text is a scenario bug.
node -e '
  const fs = require("fs"); const seen = new Map();
  for (const f of process.argv.slice(1)) for (const s of JSON.parse(fs.readFileSync(f, "utf8")).steps)
    if (s.say) {
      if (seen.has(s.say) && seen.get(s.say) !== s.text) { console.error(`say id ${s.say} has two texts`); process.exit(1); }
      if (!seen.has(s.say)) { seen.set(s.say, s.text); console.log(`${s.say}\t${s.text}`); }
    }' "$@" > "$tmp/lines"

while IFS=$'\t' read -r id text; do
  # -s 165 wpm is an ordinary speaking rate; -a 180 keeps speech well above the caller's SPEECH_RMS threshold.
  espeak-ng -v en-us -s 165 -a 180 -w "$tmp/$id.wav" -- "$text"
  # silence -l 1 0.02 5% -1 0.12 5%: drop the leading silence, then keep at most 0.12 s of any quiet stretch. 5% of
  # full scale sits above SPEECH_RMS, so quiet consonants count as quiet here as they do in the emulators' energy
  # detector (at 2%, weak consonants left 260 ms non-speech gaps). reverse/silence/reverse trims the tail.
  sox -R "$tmp/$id.wav" -r 8000 -c 1 -e u-law -b 8 -t raw "$out/$id.ulaw" \
    gain -n -3 silence -l 1 0.02 5% -1 0.12 5% reverse silence 1 0.02 5% reverse
  printf '%-22s %6d bytes  %s\n' "$id.ulaw" "$(stat -c %s "$out/$id.ulaw")" "$text"
done < "$tmp/lines"
