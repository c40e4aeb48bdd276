# One client of tests/e2e/pgaf.sh's initiate load (failover.sh, bench/failover-bench.sh): initiates of the VM's port 22
# for its own source, one after another, on the first replica and, after an answer that never came (a refused
# connection: the replica is gone), on the other, until the file STOP exists; a line per answer:
# START_MS END_MS CODE RETRY_AFTER(0/1) REQUEST_ID(or error code) REPLICA(0/1); in odd-OUT (beside OUT) the answers
# neither 202 nor 503, with their bodies
# Usage: bash initiate-loop.sh K SOURCE URL0 URL1 CAFILE VM_ID STOP MAX_S OUT TOKENFILE
k=$1 src=$2 url0=$3 url1=$4 cert=$5 vm=$6 stop=$7 max=$8 out=$9 tok=$(<"${10}")
hdr=${out%/*}/hdr.$k body=${out%/*}/body.$k at=0
while [[ ! -e $stop ]]; do
	end=$(date -u -d @$(( $(date +%s) + 3600 )) +%Y-%m-%dT%H:%M:%SZ)
	url=$url0; [[ $at == 1 ]] && url=$url1
	t0=$(date +%s%3N)
	code=$(curl -sS --max-time "$max" --interface "$src" --cacert "$cert" -o "$body" -D "$hdr" -w '%{http_code}' \
		-H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data-binary \
		"{\"virtualMachines\":[{\"id\":\"$vm\",\"ports\":[{\"number\":22,\"endTimeUtc\":\"$end\",\"allowedSourceAddressPrefix\":\"$src\"}]}],\"justification\":\"failover\"}" \
		"$url" 2>/dev/null)
	t1=$(date +%s%3N)
	ra=0; grep -qi '^retry-after: ' "$hdr" 2>/dev/null && ra=1
	id=-; [[ $code == 202 ]] && id=$(jq -r .id <"$body" 2>/dev/null)
	[[ $code != 202 && -s $body ]] && id=$(jq -r .error.code <"$body" 2>/dev/null)
	echo "$t0 $t1 $code $ra $id $at" >>"$out"
	# an answer neither 202 nor 503: its body kept, for the report
	[[ $code != 202 && $code != 503 ]] && echo "$t0 $t1 $code $(head -c 600 "$body" 2>/dev/null)" >>"${out%/*}/odd-${out##*/}"
	[[ $code == 000 ]] && at=$(( 1 - at ))
	rm -f "$hdr" "$body"
done
