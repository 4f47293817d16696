#!/usr/bin/env bash
# Makes a private CA and the certificates relaysync's mutual TLS needs, with
# openssl only (nothing is downloaded). For the demo, the tests and small
# sites; larger ones use cert-manager (docs/security.md).
#
#   make-certs.sh [options] DIR
#     --coordinator=NAME[,NAME...]  DNS names / IP addresses of the
#                                   coordinator certificate (repeatable)
#     --agent=HOST                  an agent certificate for host id HOST
#     --admin=NAME                  an admin certificate (vsmtprelay add ...)
#     --reader=NAME                 a reader certificate (list, dump, status)
#     --trust-domain=DOMAIN         SPIFFE trust domain (default relaysync)
#     --days=N                      validity (default 825); a negative N makes
#                                   an already expired certificate (tests)
#     --ca-name=CN                  subject of a new CA
#
# DIR/ca.pem and DIR/ca.key are the CA; they are made once and reused, so
# running the script again adds certificates to the same CA. Each
# certificate is DIR/<kind>-<name>.pem with its key DIR/<kind>-<name>.key
# (mode 0600); the coordinator's is DIR/coordinator.pem. Every client
# certificate carries one URI SAN, spiffe://DOMAIN/KIND/NAME, which is the
# identity the coordinator authorizes (docs/security.md).
set -euo pipefail

usage() {
  sed -n '2,22s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

domain=relaysync
days=825
ca_name="relaysync private CA"
coordinator_names=()
clients=()  # kind:name
dir=""
for arg in "$@"; do
  case $arg in
    --coordinator=*) IFS=, read -r -a names <<<"${arg#*=}"
                     coordinator_names+=("${names[@]}") ;;
    --agent=*) clients+=("agent:${arg#*=}") ;;
    --admin=*) clients+=("admin:${arg#*=}") ;;
    --reader=*) clients+=("reader:${arg#*=}") ;;
    --trust-domain=*) domain=${arg#*=} ;;
    --days=*) days=${arg#*=} ;;
    --ca-name=*) ca_name=${arg#*=} ;;
    -h|--help) usage ;;
    -*) echo "make-certs.sh: unknown option $arg" >&2; usage ;;
    *) [[ -z $dir ]] || usage; dir=$arg ;;
  esac
done
[[ -n $dir ]] || usage
[[ $days =~ ^-?[0-9]+$ ]] || { echo "make-certs.sh: --days=$days" >&2; exit 2; }
name_re='^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'
for c in "${clients[@]}"; do
  [[ ${c#*:} =~ $name_re ]] || {
    echo "make-certs.sh: bad name \"${c#*:}\" (letters, digits, . _ -)" >&2
    exit 2
  }
done

umask 077
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -s $dir/ca.pem || ! -s $dir/ca.key ]]; then
  new_key "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
    -subj "/CN=$ca_name" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "make-certs.sh: new CA $dir/ca.pem"
fi

# sign NAME SUBJECT_CN EXTENSIONS...
sign() {
  local out=$1 cn=$2; shift 2
  new_key "$dir/$out.key"
  openssl req -new -key "$dir/$out.key" -out "$work/$out.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "$@" >"$work/$out.ext"
  openssl x509 -req -in "$work/$out.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -CAserial "$dir/ca.srl" -days "$days" \
    -extfile "$work/$out.ext" -out "$dir/$out.pem" 2>/dev/null
  chmod 0644 "$dir/$out.pem"
  echo "make-certs.sh: $dir/$out.pem ($cn)"
}

if ((${#coordinator_names[@]} > 0)); then
  sans=""
  for n in "${coordinator_names[@]}"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then sans+=",IP:$n"; else sans+=",DNS:$n"; fi
  done
  sign coordinator "${coordinator_names[0]}" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "subjectAltName=URI:spiffe://$domain/coordinator/${coordinator_names[0]}${sans}"
fi
for c in "${clients[@]}"; do
  kind=${c%%:*} name=${c#*:}
  sign "$kind-$name" "$name" "extendedKeyUsage=clientAuth" \
    "subjectAltName=URI:spiffe://$domain/$kind/$name"
done
chmod 0644 "$dir/ca.pem"
