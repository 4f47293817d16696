#include "tests/integration/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "tests/test_util.h"

namespace relaysync::testing {

Process::~Process() {
  if (pid_ > 0) Signal(SIGKILL);
}

bool Process::Start(const std::vector<std::string>& argv,
                    const std::string& log_path) {
  int log =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return false;
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return false;
  }
  if (pid == 0) {
    // A test that dies (a timeout, a crash) leaves no process behind, in a
    // network namespace or not.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    // Unblock what the test runner may have blocked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log);
  pid_ = pid;
  return true;
}

int Process::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return -1;
}

void Process::Signal(int sig, bool wait) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  if (!wait) return;
  if (Wait(absl::Seconds(10)) == -1 && pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait(absl::Seconds(5));
  }
}

int RunCommand(const std::vector<std::string>& argv, std::string* output,
               absl::Duration timeout) {
  ScratchDir dir;
  const std::string log = dir.File("out");
  Process p;
  if (!p.Start(argv, log)) return -1;
  int code = p.Wait(timeout);
  if (p.running()) p.Signal(SIGKILL);
  if (output != nullptr) *output = ReadFile(log);
  return code;
}

}  // namespace relaysync::testing
