// Prometheus metrics for the daemons, behind small handles so that the
// classes that count know nothing of prometheus-cpp: a Counter, Gauge or
// Histogram is one pointer, and a default-made handle (metrics off) does
// nothing. A Registry owns the metrics and, once Serve()d, the HTTP
// endpoint (/metrics) that exposes them. docs/operations.md lists them.
//
// Cost: counting on a handle is one atomic operation, with no lock and no
// string work; take handles once (at construction), not per event.
// Labelled metrics are for bounded label values only (reasons, kinds,
// configured paths, authenticated host ids).
#ifndef RELAYSYNC_METRICS_METRICS_H_
#define RELAYSYNC_METRICS_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
class Exposer;
template <typename T>
class Family;
}  // namespace prometheus

namespace relaysync::metrics {

using Labels = std::map<std::string, std::string>;

// Monotonic count of events. Thread-safe; copyable.
class Counter {
 public:
  Counter() = default;  // off: counts nothing
  void Increment(double by = 1) const;

 private:
  friend class Registry;
  explicit Counter(prometheus::Counter* c) : c_(c) {}
  prometheus::Counter* c_ = nullptr;
};

// A value that goes up and down. Thread-safe; copyable.
class Gauge {
 public:
  Gauge() = default;  // off
  void Set(double value) const;
  void Increment(double by = 1) const;
  void Decrement(double by = 1) const;

 private:
  friend class Registry;
  explicit Gauge(prometheus::Gauge* g) : g_(g) {}
  prometheus::Gauge* g_ = nullptr;
};

// A distribution over fixed buckets. Thread-safe; copyable.
class Histogram {
 public:
  Histogram() = default;  // off
  void Observe(double value) const;
  void ObserveDuration(absl::Duration d) const {
    if (h_ != nullptr) Observe(absl::ToDoubleSeconds(d));
  }

 private:
  friend class Registry;
  explicit Histogram(prometheus::Histogram* h) : h_(h) {}
  prometheus::Histogram* h_ = nullptr;
};

// Bucket bounds for latencies from 100 us to 10 s, in seconds.
std::vector<double> LatencyBuckets();
// Bucket bounds for sizes from 64 B to 4 MiB, in bytes.
std::vector<double> SizeBuckets();

// Owns every metric of a process and serves them. Thread-safe.
class Registry {
 public:
  // A registry that is not served (tests read it with Text()).
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A registry served over HTTP at http://`listen`/metrics, without
  // authentication (bind it to loopback or a pod IP). `listen` is
  // HOST:PORT with an IPv4 address or name: Debian's prometheus-cpp
  // (CivetWeb) is built without IPv6 and refuses [::1]:PORT. Errors name
  // `flag`.
  static absl::StatusOr<std::unique_ptr<Registry>> Serve(
      const std::string& listen, const std::string& flag);

  // The metric `name` with `labels`: the same handle for the same name and
  // labels. A name keeps its first help text and kind. Names end in their
  // unit (_seconds, _bytes) and counters in _total (Prometheus naming).
  Counter AddCounter(const std::string& name, const std::string& help,
                     const Labels& labels = {});
  Gauge AddGauge(const std::string& name, const std::string& help,
                 const Labels& labels = {});
  Histogram AddHistogram(const std::string& name, const std::string& help,
                         const std::vector<double>& buckets,
                         const Labels& labels = {});

  // Sets the gauge family `name` to exactly `values`: one series per label
  // value of `label`; series whose value is gone are removed. For sets that
  // come and go (connected agents), refreshed by an OnScrape callback.
  void ReplaceGauges(const std::string& name, const std::string& help,
                     const std::string& label,
                     const std::vector<std::pair<std::string, double>>& values);

  // Runs `update` before every scrape, on the HTTP server's thread: for
  // gauges cheaper to read on demand than to track (spool depth, store
  // entries). `update` must be thread-safe and quick; it runs until the
  // registry is destroyed, so what it uses must outlive the registry or be
  // removed with ClearOnScrape() first.
  void OnScrape(std::function<void()> update);
  void ClearOnScrape();

  // The port served (0 when not served).
  int port() const { return port_; }
  // Every metric in the text exposition format, after the OnScrape
  // callbacks ran.
  std::string Text();

 private:
  class Hooks;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Hooks> hooks_;                  // runs the OnScrape callbacks
  std::unique_ptr<prometheus::Exposer> exposer_;  // null: not served
  int port_ = 0;

  absl::Mutex mu_;  // AddX may run concurrently
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms_
      ABSL_GUARDED_BY(mu_);
  // ReplaceGauges: the series now in each family, by label value.
  std::map<std::string, std::map<std::string, prometheus::Gauge*>> replaced_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace relaysync::metrics

#endif  // RELAYSYNC_METRICS_METRICS_H_
