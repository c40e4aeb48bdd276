# The set-up sso.sh and sso-slow.sh share: two namespaces, jitgated privilege-separated with an [sso] section.
# Source it after lib.sh; it uses SUB, JITGATED, IDP (the provider's issuer URL) and JG (jitgated's URL).

# sso_net PREFIX VMADDR CLADDR: namespaces VM (jitgated and the provider, VMADDR) and CL (the client, CLADDR),
# named PREFIX vm and cl, a veth between them; JITGATED_USER, the user jitgated drops to, made; STATE, its state
# directory, under E2E_TMP, which that user can now pass through
sso_net() {
	VM=$(ns_new "${1}vm") && CL=$(ns_new "${1}cl") || return 1
	link_new "$VM" v0 "$CL" c0 || return 1
	addr_add "$VM" v0 "$2/24"
	addr_add "$CL" c0 "$3/24"
	JITGATED_USER=jitgate-sso-test
	e2e_user "$JITGATED_USER" || return 1
	chmod 0711 "$E2E_TMP"
	STATE=$E2E_TMP/state
	mkdir -p "$STATE"
}

# sso_conf NAME: E2E_TMP/jitgated.conf, its [sso] section's head for the provider NAME at IDP (client jitgate);
# the caller appends the section's other lines
sso_conf() {
	printf '[sso]\nname = %s\nissuer = %s\nclient_id = jitgate\nclient_secret = jitgate-test-secret\nredirect_url = %s\n' \
		"$1" "$IDP" "$JG/oidc/callback" >"$E2E_TMP/jitgated.conf"
}

# sso_start NAME ROLE HOST:PORT RG: a token NAME of ROLE made in STATE (in SSO_TOKEN), then jitgated privilege-
# separated in VM as vm1 of RG, with jitgated.conf (made readable to it); its start is one check. Fails (a failed
# check) when the token could not be made.
sso_start() {
	SSO_TOKEN=$("$JITGATED" token create --state-dir "$STATE" --name "$1" --role "$2" 2>&1 | grep -o 'jg_[A-Za-z0-9_-]*' |
		head -n 1)
	[[ -n $SSO_TOKEN ]] || { notok "jitgated token create $1"; return 1; }
	chmod 0644 "$E2E_TMP/jitgated.conf"
	jitgated_start "$VM" "$CL" "$STATE" "$3" "$E2E_TMP/jitgated.log" --vm-name vm1 \
		--subscription "$SUB" --resource-group "$4" --location local --config "$E2E_TMP/jitgated.conf"
	check "jitgated starts privilege-separated with [sso] and answers /healthz" test $? = 0
}
