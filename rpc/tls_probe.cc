#include "rpc/tls_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace relaysync {
namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using SslCtx = std::unique_ptr<SSL_CTX, Free<SSL_CTX, SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL, SSL_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// The reason of the last OpenSSL error on this thread ("certificate verify
// failed", "tlsv13 alert certificate required"), and clears the queue.
std::string OpenSslReason() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "no detail from OpenSSL";
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : absl::StrCat("OpenSSL error ", last);
}

int64_t Seconds(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

std::string Utc(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
}

struct Endpoint {
  std::string host;  // without brackets
  std::string port;
  std::string unix_path;
};

Endpoint Split(const std::string& target) {
  Endpoint e;
  absl::string_view t = target;
  if (absl::ConsumePrefix(&t, "unix:")) {
    e.unix_path = std::string(t);
    return e;
  }
  const size_t colon = t.rfind(':');
  absl::string_view host = t.substr(0, colon);
  absl::ConsumePrefix(&host, "[");
  absl::ConsumeSuffix(&host, "]");
  e.host = std::string(host);
  e.port = std::string(t.substr(colon + 1));
  return e;
}

// Connects a non-blocking socket within `timeout`.
absl::Status ConnectOne(int fd, const sockaddr* addr, socklen_t len,
                        absl::Duration timeout) {
  if (connect(fd, addr, len) == 0) return absl::OkStatus();
  if (errno != EINPROGRESS) return absl::UnavailableError(strerror(errno));
  pollfd p = {fd, POLLOUT, 0};
  const int n =
      poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
  }
  if (n < 0) return absl::UnavailableError(strerror(errno));
  int err = 0;
  socklen_t err_len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
    return absl::UnavailableError(strerror(errno));
  }
  if (err != 0) return absl::UnavailableError(strerror(err));
  return absl::OkStatus();
}

// A connected, blocking socket with `timeout` on every read and write.
absl::Status Connect(const Endpoint& e, absl::Duration timeout, Fd* out) {
  const std::string where = "unreachable: ";
  absl::Status last;
  auto try_one = [&](int family, const sockaddr* addr, socklen_t len) {
    Fd fd;
    fd.fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd.fd < 0) {
      last = absl::UnavailableError(strerror(errno));
      return false;
    }
    last = ConnectOne(fd.fd, addr, len, timeout);
    if (!last.ok()) return false;
    fcntl(fd.fd, F_SETFL, fcntl(fd.fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv = {static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
    setsockopt(fd.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::swap(out->fd, fd.fd);
    return true;
  };
  if (!e.unix_path.empty()) {
    sockaddr_un sun = {};
    sun.sun_family = AF_UNIX;
    if (e.unix_path.size() >= sizeof(sun.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "path too long"));
    }
    memcpy(sun.sun_path, e.unix_path.data(), e.unix_path.size());
    if (try_one(AF_UNIX, reinterpret_cast<sockaddr*>(&sun), sizeof(sun))) {
      return absl::OkStatus();
    }
    return absl::Status(last.code(), absl::StrCat(where, last.message()));
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat(where, "cannot resolve ", e.host, ": ", gai_strerror(rc)));
  }
  bool ok = false;
  for (addrinfo* a = found; a != nullptr && !ok; a = a->ai_next) {
    ok = try_one(a->ai_family, a->ai_addr, a->ai_addrlen);
  }
  freeaddrinfo(found);
  if (ok) return absl::OkStatus();
  return absl::Status(last.code(), absl::StrCat(where, last.message()));
}

// Why our side refused the coordinator's certificate.
std::string ServerCertProblem(long result, SSL* ssl, const std::string& name,
                              const std::string& ca) {
  Cert peer(SSL_get1_peer_certificate(ssl));
  std::string issuer = "?";
  if (peer != nullptr) {
    char buf[256] = {0};
    X509_NAME_oneline(X509_get_issuer_name(peer.get()), buf, sizeof(buf) - 1);
    issuer = buf;
  }
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::StrCat(
          "expired certificate: the coordinator's certificate expired on ",
          peer ? Utc(Seconds(X509_get0_notAfter(peer.get()))) : "?",
          ": renew it on the coordinator");
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the coordinator's certificate is not valid yet: check both "
             "clocks";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return absl::StrCat(
          "name mismatch: the coordinator's certificate is not valid for \"",
          name,
          "\": connect by a name it holds, or set --tls-server-name to one");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return absl::StrCat("wrong CA: the coordinator's certificate (issuer ",
                          issuer, ") is not signed by --tls-ca ", ca, " (",
                          X509_verify_cert_error_string(result), ")");
    default:
      return absl::StrCat("the coordinator's certificate is refused: ",
                          X509_verify_cert_error_string(result));
  }
}

// What an alert from the coordinator about our certificate means.
std::string ClientCertProblem(const std::string& reason) {
  std::string hint;
  if (absl::StrContains(reason, "expired")) {
    hint = ": --tls-cert has expired";
  } else if (absl::StrContains(reason, "unknown ca") ||
             absl::StrContains(reason, "bad certificate") ||
             absl::StrContains(reason, "decrypt error")) {
    hint = ": the coordinator's CA did not sign --tls-cert (wrong CA)";
  } else if (absl::StrContains(reason, "certificate required")) {
    hint = ": no usable --tls-cert was sent";
  } else if (absl::StrContains(reason, "eof")) {
    hint =
        ": it hung up during the handshake, as it does for a certificate "
        "its --tls-client-ca did not sign";
  }
  return absl::StrCat("the coordinator refused this agent's certificate (",
                      reason, ")", hint);
}

// Whether the CA bundle at `ca` verifies `cert` (purpose and time aside).
bool SignedBy(X509* cert, const std::string& ca) {
  std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>> store(
      X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>
      ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr ||
      X509_STORE_load_file(store.get(), ca.c_str()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    OpenSslReason();
    return false;
  }
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()),
                              X509_V_FLAG_NO_CHECK_TIME);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  OpenSslReason();
  return ok;
}

}  // namespace

absl::StatusOr<CertificateFacts> ReadCertificate(const TlsFiles& files) {
  KeepOpenSslUntilExit();
  std::unique_ptr<FILE, int (*)(FILE*)> cf(fopen(files.cert.c_str(), "r"),
                                           fclose);
  if (cf == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("--tls-cert: ", files.cert, ": ", strerror(errno)));
  }
  Cert cert(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--tls-cert: ", files.cert, ": no PEM certificate: ", OpenSslReason()));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> kf(fopen(files.key.c_str(), "r"),
                                           fclose);
  if (kf == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("--tls-key: ", files.key, ": ", strerror(errno)));
  }
  Key key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
  if (key == nullptr || X509_check_private_key(cert.get(), key.get()) != 1) {
    OpenSslReason();
    return absl::FailedPreconditionError(
        absl::StrCat("--tls-key: ", files.key, " is not the key of --tls-cert ",
                     files.cert));
  }
  CertificateFacts facts;
  facts.not_before = Seconds(X509_get0_notBefore(cert.get()));
  facts.not_after = Seconds(X509_get0_notAfter(cert.get()));
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_STRING* s = n->d.uniformResourceIdentifier;
    facts.uris.emplace_back(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
        static_cast<size_t>(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(names);
  facts.signed_by_ca = SignedBy(cert.get(), files.ca);
  return facts;
}

absl::Status ProbeTls(const std::string& target, const TlsFiles& files,
                      absl::Duration timeout) {
  KeepOpenSslUntilExit();
  const Endpoint e = Split(target);
  Fd fd;
  if (absl::Status s = Connect(e, timeout, &fd); !s.ok()) return s;
  if (files.insecure) return absl::OkStatus();
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return absl::InternalError(OpenSslReason());
  const struct {
    int ok;
    const char* flag;
    const std::string& path;
  } loads[] = {
      {SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr),
       "--tls-ca", files.ca},
      {SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()),
       "--tls-cert", files.cert},
      {SSL_CTX_use_PrivateKey_file(ctx.get(), files.key.c_str(),
                                   SSL_FILETYPE_PEM),
       "--tls-key", files.key},
  };
  for (const auto& l : loads) {
    if (l.ok != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          l.flag, ": ", l.path, ": cannot be loaded: ", OpenSslReason()));
    }
  }
  // Verified by hand below, so that the handshake goes on and the
  // coordinator's verdict on our certificate is heard too.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  Ssl ssl(SSL_new(ctx.get()));
  if (ssl == nullptr) return absl::InternalError(OpenSslReason());
  SSL_set_fd(ssl.get(), fd.fd);
  const std::string name =
      files.server_name.empty() ? e.host : files.server_name;
  in6_addr ip;
  const bool is_ip = inet_pton(AF_INET, name.c_str(), &ip) == 1 ||
                     inet_pton(AF_INET6, name.c_str(), &ip) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (!name.empty()) {
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl.get(), name.c_str());
      X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    }
  }
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    const std::string reason = OpenSslReason();
    if (absl::StrContains(reason, "alert")) {
      return absl::FailedPreconditionError(ClientCertProblem(reason));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "TLS handshake with ", target, " failed: ", reason,
        errno == EAGAIN ? " (no answer: is it a relaysync coordinator?)" : ""));
  }
  if (long v = SSL_get_verify_result(ssl.get()); v != X509_V_OK) {
    return absl::FailedPreconditionError(
        ServerCertProblem(v, ssl.get(), name, files.ca));
  }
  // In TLS 1.3 the coordinator judges our certificate after our side of the
  // handshake is done: a refusal arrives as an alert on the first read, an
  // acceptance as its HTTP/2 settings.
  char byte;
  if (const int rc = SSL_read(ssl.get(), &byte, 1); rc <= 0) {
    const int err = SSL_get_error(ssl.get(), rc);
    const std::string reason = OpenSslReason();
    if (err == SSL_ERROR_SSL) {
      return absl::FailedPreconditionError(ClientCertProblem(reason));
    }
    if (err == SSL_ERROR_ZERO_RETURN ||
        (err == SSL_ERROR_SYSCALL && errno != EAGAIN)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the coordinator at ", target,
                       " closed the connection after the handshake (did it "
                       "refuse --tls-cert?)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace relaysync
