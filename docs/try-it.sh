#!/usr/bin/env bash
# The API step by step, after `make up`: two users, a follow, a photo upload, the follower's feed,
# a like, a comment and the notifications. Run it from anywhere: `bash docs/try-it.sh`.
# PHOTOFEED_API points it at another gateway (default http://127.0.0.1:8000/api/v1).
set -euo pipefail
cd "$(dirname "$0")/.."

B=${PHOTOFEED_API:-http://127.0.0.1:8000/api/v1}; J='content-type: application/json'
PY=${PY:-.venv/bin/python}   # Pillow draws the sample photo; json parses the answers
POS=; HDR=$(mktemp "${TMPDIR:-/tmp}/photofeed-XXXXXX.hdr")   # the newest Photofeed-Position
# api METHOD PATH [curl options]: prints the step and its HTTP status, keeps the body in $BODY;
# sends back the newest Photofeed-Position answered, so a read sees every write before it
api() {
  local method=$1 path=$2 out rc=0 pos; shift 2
  out=$(curl -sS --fail-with-body -X "$method" "$B$path" -w '\n%{http_code}' -D "$HDR" \
    -H "Photofeed-Position: $POS" "$@") || rc=$?
  BODY=${out%$'\n'*}; echo "$method $path -> HTTP ${out##*$'\n'}  ${BODY:0:160}"
  pos=$(tr -d '\r' < "$HDR" | grep -i '^photofeed-position:' | cut -d' ' -f2 || true)
  POS=${pos:-$POS}; return $rc
}
field() { "$PY" -c 'import sys,json; print(json.loads(sys.argv[1])[sys.argv[2]])' "$BODY" "$1"; }
S=$RANDOM$RANDOM; PASS='correct horse'
IMG=$(mktemp "${TMPDIR:-/tmp}/photofeed-XXXXXX.jpg")
"$PY" -c 'import random,sys; from PIL import Image, ImageDraw
im = Image.new("RGB", (800, 600), tuple(random.randrange(256) for _ in range(3)))
ImageDraw.Draw(im).ellipse((250, 150, 550, 450), fill=(255, 190, 40)); im.save(sys.argv[1], quality=90)' "$IMG"

api POST /users -H "$J" -d "{\"username\":\"ana_$S\",\"password\":\"$PASS\"}"; ANA=$(field user_id)
api POST /users -H "$J" -d "{\"username\":\"bob_$S\",\"password\":\"$PASS\"}"; BOB=$(field user_id)
api POST /sessions -H "$J" -d "{\"username\":\"ana_$S\",\"password\":\"$PASS\"}"; ANA_T=$(field token)
api POST /sessions -H "$J" -d "{\"username\":\"bob_$S\",\"password\":\"$PASS\"}"; BOB_T=$(field token)
api POST "/follow/$BOB" -H "Authorization: Bearer $ANA_T"                      # ana follows bob: 204
api POST /photos -H "Authorization: Bearer $BOB_T" -F "photo=@$IMG;type=image/jpeg" \
  -F 'caption=sunset #sea'; PHOTO=$(field photo_id)                            # bob uploads: 202
for _ in $(seq 60); do                                                         # processing -> published
  api GET "/photos/$PHOTO/status" -H "Authorization: Bearer $BOB_T"
  [ "$(field status)" = processing ] || break; sleep 0.5
done
[ "$(field status)" = published ] || { echo "the photo was not published: $BODY"; false; }
POST=$(field post_id); echo "  published as post $POST"
api GET "/feed?limit=20" -H "Authorization: Bearer $ANA_T"                     # ana's home feed
"$PY" -c 'import sys,json
for p in json.loads(sys.argv[1])["posts"]:
    print("  in the feed of ana:", p["post_id"], "by", p["user"]["username"], repr(p["caption"]))' "$BODY"
api POST "/likes/$POST" -H "Authorization: Bearer $ANA_T"                      # 204, idempotent
api POST "/posts/$POST/comments" -H "Authorization: Bearer $ANA_T" -H "$J" -d '{"text":"wow"}'
api GET /notifications -H "Authorization: Bearer $BOB_T"                       # bob: ana liked, commented
"$PY" -c 'import sys,json
for n in json.loads(sys.argv[1])["notifications"]:
    print("  notification of bob:", n["type"], "by", ", ".join(a["username"] for a in n["actors"]))' "$BODY"
rm -f "$IMG" "$HDR"
