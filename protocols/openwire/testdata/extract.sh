#!/usr/bin/env bash
# extract.sh writes each TCP connection of a capture as two files of raw
# stream bytes, NAME-N.request.bin (client to server) and
# NAME-N.response.bin, with tshark's "follow,tcp,raw".
#   extract.sh ../../../testdata/openwire_activemq.pcap activemq 61616
set -euo pipefail
pcap=$1 name=$2 port=$3
for s in $(tshark -r "$pcap" -T fields -e tcp.stream | sort -un); do
	tshark -r "$pcap" -q -z "follow,tcp,raw,$s" | python3 -c '
import sys, binascii
req, resp = bytearray(), bytearray()
lines = sys.stdin.read().splitlines()
body = [l for l in lines[6:] if l and not l.startswith("=")]
for l in body:
    if l.startswith("\t"):
        resp += binascii.unhexlify(l.strip())
    else:
        req += binascii.unhexlify(l.strip())
open(sys.argv[1] + ".request.bin", "wb").write(req)
open(sys.argv[1] + ".response.bin", "wb").write(resp)
' "$name-$s"
done
