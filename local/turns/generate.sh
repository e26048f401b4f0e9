#!/usr/bin/env bash
# Regenerates local/turns/audio/<turn id>-<part>.ulaw for every say and noise part of turns.json (espeak-ng / sox synth → raw μ-law).
#
# Output: 8 kHz mono G.711 μ-law, headerless (what Twilio Media Streams carries), like local/scenarios/generate-audio.sh:
# leading and trailing silence trimmed, internal silence cut to ≤ 120 ms, so the STT emulator (bursts end after
# ≥ 250 ms of silence) hears each say part as ONE burst. Pauses are not stored: the eval plays them as line silence,
# which keeps the corpus small. Noise: a cough (shaped brown noise) and line noise (band-limited white noise), made
# with sox. Every sox run is in repeatable mode (-R: its dither and noise are seeded), so the files are byte-identical
# on every run. Needs espeak-ng, sox, node. Usage: local/turns/generate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/audio"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# "<file id>\t<say|noise>\t<text or noise kind>" for every part that has audio.
node -e '
  const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const t of doc.turns) t.parts.forEach((p, i) => {
    if (p.say) console.log(`${t.id}-${i}\tsay\t${p.say}`);
    else if (p.noise) console.log(`${t.id}-${i}\tnoise\t${p.noise}`);
  });' "$here/turns.json" > "$tmp/parts"

rm -f "$out"/*.ulaw
while IFS=$'\t' read -r id kind what; do
  if [ "$kind" = say ]; then
    # Same voice, rate and level as the scenario audio (generate-audio.sh explains the silence thresholds).
    espeak-ng -v en-us -s 165 -a 180 -w "$tmp/$id.wav" -- "$what"
    sox -R "$tmp/$id.wav" -r 8000 -c 1 -e u-law -b 8 -t raw "$out/$id.ulaw" \
      gain -n -3 silence -l 1 0.02 5% -1 0.12 5% reverse silence 1 0.02 5% reverse
  elif [ "$what" = cough ]; then
    # ~300 ms: a sharp onset and a decaying tail, low-passed like a cough heard through a phone.
    sox -R -n -r 8000 -c 1 -e u-law -b 8 -t raw "$out/$id.ulaw" synth 0.3 brownnoise lowpass 1800 fade q 0.01 0.3 0.22 gain -n -6
  else
    # ~500 ms of crackle/hiss in the telephone band.
    sox -R -n -r 8000 -c 1 -e u-law -b 8 -t raw "$out/$id.ulaw" synth 0.5 whitenoise sinc 300-3400 tremolo 23 80 gain -n -12
  fi
  printf '%-40s %6d bytes  %s\n' "$id.ulaw" "$(stat -c %s "$out/$id.ulaw")" "$what"
done < "$tmp/parts"
