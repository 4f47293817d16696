// The notify socket's message format, shared by the agent (notify_source.h)
// and its senders (notify_client.h), as dovecot_log_parser.h is for the
// log. One datagram, one line:
//   "v1\tIP\tUSER\tPROTOCOL\tSOURCE\n"   PROTOCOL: pop3 | imap | unknown
// The trailing newline is optional; SOURCE may be empty. A sender that
// waits for it (SendNotifyConfirmed) gets one answer datagram back:
// "ok\n" once the login is in the agent's spool, or "error\tWHY\n".
#ifndef RELAYSYNC_AGENT_NOTIFY_MESSAGE_H_
#define RELAYSYNC_AGENT_NOTIFY_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/local_login.h"

namespace relaysync {

// Longest datagram accepted; longer ones are dropped.
inline constexpr size_t kMaxNotifyMessageBytes = 2048;

// The datagram for `login` (its address, user, protocol and source; the time
// is the receiver's). InvalidArgument if a field cannot be carried: address
// not parseable, user empty or with control characters, or a field longer
// than kMaxTextField.
absl::StatusOr<std::string> FormatNotifyMessage(const LocalLogin& login);

// Parses one datagram. The address is canonicalized; login_time is `now`;
// source is "notify:" + SOURCE ("notify" if empty), so a sender cannot pose
// as another kind of source. Errors say what is wrong.
absl::StatusOr<LocalLogin> ParseNotifyMessage(absl::string_view message,
                                              int64_t now);

// The agent's answers to a confirming sender: kNotifyAnswerOk once the
// login is in its spool, NotifyErrorAnswer(why) if it refused the login or
// could not store it ("error\tWHY\n", WHY cut and escaped).
inline constexpr absl::string_view kNotifyAnswerOk = "ok\n";
std::string NotifyErrorAnswer(absl::string_view why);

// The sender's reading of an answer: OK for "ok\n", otherwise Aborted with
// the agent's WHY.
absl::Status ParseNotifyAnswer(absl::string_view answer);

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_NOTIFY_MESSAGE_H_
