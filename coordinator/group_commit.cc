#include "coordinator/group_commit.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/time/clock.h"
#include "common/thread_name.h"

namespace relaysync {
namespace {

// Upper bound on logins merged in one store transaction.
constexpr size_t kMaxGroupLogins = 20000;

}  // namespace

GroupCommit::GroupCommit(StateWriter* writer, int threads,
                         const CoordinatorMetrics* metrics)
    : writer_(writer),
      metrics_(metrics != nullptr ? *metrics : CoordinatorMetrics()) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] {
      NameThisThread("merge");
      Loop();
    });
  }
}

GroupCommit::~GroupCommit() { Stop(); }

void GroupCommit::Merge(std::vector<Login> logins, Done done) {
  absl::MutexLock l(&mu_);
  queue_.push_back(Job{std::move(logins), std::move(done)});
}

void GroupCommit::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

std::vector<GroupCommit::Job> GroupCommit::NextGroup() {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  };
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(&ready));
  std::vector<Job> jobs;
  size_t logins = 0;
  while (!queue_.empty() &&
         (jobs.empty() ||
          logins + queue_.front().logins.size() <= kMaxGroupLogins)) {
    logins += queue_.front().logins.size();
    jobs.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return jobs;
}

void GroupCommit::Loop() {
  for (;;) {
    std::vector<Job> jobs = NextGroup();
    if (jobs.empty()) return;  // stopping, nothing queued
    std::vector<Login> group;
    for (Job& job : jobs) {
      group.insert(group.end(), std::make_move_iterator(job.logins.begin()),
                   std::make_move_iterator(job.logins.end()));
    }
    const size_t count = group.size();
    const absl::Time start = absl::Now();
    absl::StatusOr<uint64_t> merged = writer_->MergeLogins(std::move(group));
    metrics_.merge_seconds.ObserveDuration(absl::Now() - start);
    if (merged.ok()) {
      metrics_.logins_merged.Increment(static_cast<double>(count));
    } else {
      metrics_.merge_failures.Increment();
    }
    for (Job& job : jobs) job.done(merged);
  }
}

}  // namespace relaysync
