// Process-wide settings that relaysync's long-running programs (coordinator,
// agent, benchmarks) make before they start any thread.
#ifndef RELAYSYNC_COMMON_PROCESS_H_
#define RELAYSYNC_COMMON_PROCESS_H_

namespace relaysync {

// Turns off absl::Mutex deadlock detection. Debian's Abseil is built without
// NDEBUG, so every absl::Mutex acquisition (gRPC takes many per message)
// updates a global lock graph: ~1-2% of an agent's CPU in profiles, for a
// check meant for debug builds.
void InitProcess();

}  // namespace relaysync

#endif  // RELAYSYNC_COMMON_PROCESS_H_
