# certs.sh - the test PKI of the world, made fresh at every start
#
# Sourced by tests/world/up. world_make_certs DIR creates, with the openssl
# command line only (Debian 12: OpenSSL 3.0) and EC P-256 keys for speed:
#
#   DIR/ca.pem, ca.key                  the trusted test CA (MTASTS_CA_FILE)
#   DIR/untrusted-ca.pem, .key          a second CA that nobody trusts
#   DIR/hashed/                         ca.pem as an `openssl rehash` dir
#                                       (MTASTS_CA_PATH)
#   DIR/leaf.key                        the one key every leaf cert shares
#   DIR/NAME.pem + DIR/NAME.key         one leaf per cert_* call below
#
# Leaf kinds (cert_* functions):
#   cert_valid NAME SAN...        trusted CA, SAN DNS names, CN = first SAN
#   cert_untrusted NAME SAN...    signed by the untrusted CA
#   cert_selfsigned NAME SAN...   self-signed (not a CA)
#   cert_cnonly NAME CN           trusted CA, CN only, no subjectAltName
#   cert_dated NAME START END SAN...  trusted CA, validity START..END
#                                 (YYYYMMDDHHMMSSZ), through `openssl ca`
#                                 because `x509 -req`/`req -x509` of
#                                 OpenSSL 3.0 cannot back-date.

_certs_cnf() {
	cat > "$1/openssl.cnf" <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca ]
default_ca = world_ca
[ world_ca ]
dir = CADIR
database = $dir/ca-db/index.txt
new_certs_dir = $dir/ca-db
serial = $dir/ca-db/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
CNF
	sed -i "s|CADIR|$1|" "$1/openssl.cnf"
	mkdir -p "$1/ca-db"
	: > "$1/ca-db/index.txt"
	echo 1000 > "$1/ca-db/serial"
}

_certs_ossl() {
	# openssl with the world's config; quiet unless it fails.
	local out
	if ! out=$(OPENSSL_CONF="$CERTS/openssl.cnf" openssl "$@" 2>&1); then
		echo "certs: openssl $*: $out" >&2
		return 1
	fi
}

_certs_san() {
	local san="" n
	for n in "$@"; do san="${san:+$san,}DNS:$n"; done
	echo "$san"
}

_certs_link_key() { ln -sf leaf.key "$CERTS/$1.key"; }

cert_valid() {
	local name=$1; shift
	_certs_ossl req -new -x509 -config "$CERTS/openssl.cnf" \
		-CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -key "$CERTS/leaf.key" \
		-subj "/CN=$1" -extensions leaf -addext "subjectAltName=$(_certs_san "$@")" \
		-days 3650 -set_serial "0x$(openssl rand -hex 8)" -out "$CERTS/$name.pem"
	_certs_link_key "$name"
}

cert_untrusted() {
	local name=$1; shift
	_certs_ossl req -new -x509 -config "$CERTS/openssl.cnf" \
		-CA "$CERTS/untrusted-ca.pem" -CAkey "$CERTS/untrusted-ca.key" \
		-key "$CERTS/leaf.key" -subj "/CN=$1" -extensions leaf \
		-addext "subjectAltName=$(_certs_san "$@")" -days 3650 \
		-set_serial "0x$(openssl rand -hex 8)" -out "$CERTS/$name.pem"
	_certs_link_key "$name"
}

cert_selfsigned() {
	local name=$1; shift
	# No authorityKeyIdentifier: issuer = subject, not a CA.
	_certs_ossl req -new -x509 -config "$CERTS/openssl.cnf" \
		-key "$CERTS/leaf.key" -subj "/CN=$1" \
		-addext "basicConstraints=critical,CA:FALSE" \
		-addext "extendedKeyUsage=serverAuth" \
		-addext "subjectAltName=$(_certs_san "$@")" -days 3650 \
		-out "$CERTS/$name.pem"
	_certs_link_key "$name"
}

cert_cnonly() {
	local name=$1 cn=$2
	_certs_ossl req -new -x509 -config "$CERTS/openssl.cnf" \
		-CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -key "$CERTS/leaf.key" \
		-subj "/CN=$cn" -extensions leaf -days 3650 \
		-set_serial "0x$(openssl rand -hex 8)" -out "$CERTS/$name.pem"
	_certs_link_key "$name"
}

cert_dated() {
	local name=$1 start=$2 end=$3; shift 3
	_certs_ossl req -new -config "$CERTS/openssl.cnf" -key "$CERTS/leaf.key" \
		-subj "/CN=$1" -out "$CERTS/$name.csr"
	cat > "$CERTS/$name.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $(_certs_san "$@")
EXT
	_certs_ossl ca -config "$CERTS/openssl.cnf" -batch -notext \
		-startdate "$start" -enddate "$end" -extfile "$CERTS/$name.ext" \
		-in "$CERTS/$name.csr" -out "$CERTS/$name.pem"
	rm -f "$CERTS/$name.csr" "$CERTS/$name.ext"
	_certs_link_key "$name"
}

# world_make_certs DIR: the CAs; the leaves are made by the caller with
# the cert_* functions (run them in the background and `wait`: they only
# read the CA files).
world_make_certs() {
	CERTS=$1
	mkdir -p "$CERTS"
	_certs_cnf "$CERTS"
	local k
	for k in ca untrusted-ca leaf; do
		_certs_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-out "$CERTS/$k.key" || return 1
	done
	_certs_ossl req -new -x509 -config "$CERTS/openssl.cnf" -key "$CERTS/ca.key" \
		-subj "/O=mtasts-shim tests/CN=mtasts-shim Test CA" -extensions ca_ext \
		-days 3650 -out "$CERTS/ca.pem" || return 1
	_certs_ossl req -new -x509 -config "$CERTS/openssl.cnf" \
		-key "$CERTS/untrusted-ca.key" \
		-subj "/O=mtasts-shim tests/CN=mtasts-shim Untrusted CA" \
		-extensions ca_ext -days 3650 -out "$CERTS/untrusted-ca.pem" || return 1
	mkdir -p "$CERTS/hashed"
	cp "$CERTS/ca.pem" "$CERTS/hashed/mtasts-test-ca.pem"
	_certs_ossl rehash "$CERTS/hashed" || return 1
}
