# Shared by the TLS benchmark scripts (sourced, not run): a throw-away CA
# and a certificate for localhost/127.0.0.1 it signed, made with the
# openssl CLI (scripts/components.sh installs it) in $TLS_DIR, and
# wait_listening PORT.
TLS_DIR=${TLS_DIR:-$(mktemp -d /tmp/esockets-tls-bench.XXXXXX)}

make_certs() {
    [[ -s $TLS_DIR/cert.pem ]] && return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=esockets bench CA" -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=localhost" -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$TLS_DIR/ext.cnf"
    openssl x509 -req -in "$TLS_DIR/cert.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -days 2 -extfile "$TLS_DIR/ext.cnf" -out "$TLS_DIR/cert.pem" 2>/dev/null
    # HAProxy wants the chain and key in one file.
    cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" >"$TLS_DIR/haproxy.pem"
}

wait_listening() { # PORT
    for _ in $(seq 100); do # up to 10 s
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not start" >&2
    return 1
}
