// SyncSignal: how the rest of the agent tells the coordinator client's
// sending thread to look at the spool again (Wake) or to end (Stop). One
// object shared by the client, its sessions and the LocalRecorder, so none
// of them reaches into another's fields to wake it.
#ifndef RELAYSYNC_AGENT_SYNC_SIGNAL_H_
#define RELAYSYNC_AGENT_SYNC_SIGNAL_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace relaysync {

// Thread-safe. A Wake() is remembered until a WaitForWake() takes it, so
// one that comes while nobody waits is not lost; Stop() is for good.
class SyncSignal {
 public:
  // Something to send (new logins in the spool, acks that freed the send
  // window) or a session to end (its reader or applier stopped).
  void Wake();
  // The client is stopping: every wait ends now and from now on.
  void Stop();
  bool stopping() const;

  // Returns at a Wake() (taking it) or at Stop() (true both), or after
  // `timeout` (false).
  bool WaitForWake(absl::Duration timeout);
  // Returns at Stop() (true) or after `timeout` (false).
  bool WaitForStop(absl::Duration timeout);

 private:
  mutable absl::Mutex mu_;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace relaysync

#endif  // RELAYSYNC_AGENT_SYNC_SIGNAL_H_
