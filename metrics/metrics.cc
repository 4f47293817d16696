#include "metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace relaysync::metrics {

void Counter::Increment(double by) const {
  if (c_ != nullptr) c_->Increment(by);
}

void Gauge::Set(double value) const {
  if (g_ != nullptr) g_->Set(value);
}

void Gauge::Increment(double by) const {
  if (g_ != nullptr) g_->Increment(by);
}

void Gauge::Decrement(double by) const {
  if (g_ != nullptr) g_->Decrement(by);
}

void Histogram::Observe(double value) const {
  if (h_ != nullptr) h_->Observe(value);
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> SizeBuckets() {
  std::vector<double> b;
  for (double v = 64; v <= 4 * 1024 * 1024; v *= 4) b.push_back(v);
  return b;
}

// Registered with the endpoint before the registry, so the endpoint runs
// the callbacks just before it collects the metrics. Contributes no
// metric of its own.
class Registry::Hooks : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    Run();
    return {};
  }
  void Run() const {
    absl::MutexLock l(&mu_);
    for (const auto& update : updates_) update();
  }
  void Add(std::function<void()> update) {
    absl::MutexLock l(&mu_);
    updates_.push_back(std::move(update));
  }
  void Clear() {
    absl::MutexLock l(&mu_);
    updates_.clear();
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::function<void()>> updates_ ABSL_GUARDED_BY(mu_);
};

Registry::Registry()
    : registry_(std::make_shared<prometheus::Registry>()),
      hooks_(std::make_shared<Hooks>()) {}

Registry::~Registry() {
  exposer_.reset();  // no scrape runs past this point
  ClearOnScrape();
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::Serve(
    const std::string& listen, const std::string& flag) {
  auto r = std::make_unique<Registry>();
  try {
    // One thread: scrapes are rare, and each runs the OnScrape callbacks.
    r->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": cannot listen on ", listen, ": ", e.what()));
  }
  const std::vector<int> ports = r->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(flag, ": cannot listen on ", listen));
  }
  r->port_ = ports.front();
  r->exposer_->RegisterCollectable(r->hooks_);
  r->exposer_->RegisterCollectable(r->registry_);
  return r;
}

Counter Registry::AddCounter(const std::string& name, const std::string& help,
                             const Labels& labels) {
  absl::MutexLock l(&mu_);
  auto& family = counters_[name];
  if (family == nullptr) {
    family =
        &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  }
  return Counter(&family->Add(labels));
}

Gauge Registry::AddGauge(const std::string& name, const std::string& help,
                         const Labels& labels) {
  absl::MutexLock l(&mu_);
  auto& family = gauges_[name];
  if (family == nullptr) {
    family =
        &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  }
  return Gauge(&family->Add(labels));
}

Histogram Registry::AddHistogram(const std::string& name,
                                 const std::string& help,
                                 const std::vector<double>& buckets,
                                 const Labels& labels) {
  absl::MutexLock l(&mu_);
  auto& family = histograms_[name];
  if (family == nullptr) {
    family = &prometheus::BuildHistogram().Name(name).Help(help).Register(
        *registry_);
  }
  return Histogram(&family->Add(labels, buckets));
}

void Registry::ReplaceGauges(
    const std::string& name, const std::string& help, const std::string& label,
    const std::vector<std::pair<std::string, double>>& values) {
  absl::MutexLock l(&mu_);
  auto& family = gauges_[name];
  if (family == nullptr) {
    family =
        &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  }
  std::map<std::string, prometheus::Gauge*>& now = replaced_[name];
  std::map<std::string, prometheus::Gauge*> next;
  for (const auto& [value, v] : values) {
    prometheus::Gauge*& g = next[value];
    if (g == nullptr) g = &family->Add({{label, value}});
    g->Set(v);
  }
  for (const auto& [value, g] : now) {
    if (next.count(value) == 0) family->Remove(g);
  }
  now = std::move(next);
}

void Registry::OnScrape(std::function<void()> update) {
  hooks_->Add(std::move(update));
}

void Registry::ClearOnScrape() { hooks_->Clear(); }

std::string Registry::Text() {
  hooks_->Run();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace relaysync::metrics
