#include "metrics/metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace relaysync::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, DefaultHandlesCountNothingAndDoNotCrash) {
  Counter c;
  Gauge g;
  Histogram h;
  c.Increment();
  g.Set(3);
  g.Increment();
  g.Decrement();
  h.Observe(1);
  h.ObserveDuration(absl::Milliseconds(5));
}

TEST(MetricsTest, HandlesOfOneNameAndLabelsAreOneSeries) {
  Registry r;
  r.AddCounter("x_total", "help", {{"reason", "a"}}).Increment();
  r.AddCounter("x_total", "help", {{"reason", "a"}}).Increment(2);
  r.AddCounter("x_total", "help", {{"reason", "b"}}).Increment();
  const std::string text = r.Text();
  EXPECT_THAT(text, HasSubstr("x_total{reason=\"a\"} 3"));
  EXPECT_THAT(text, HasSubstr("x_total{reason=\"b\"} 1"));
  EXPECT_THAT(text, HasSubstr("# TYPE x_total counter"));
}

TEST(MetricsTest, HistogramsCountObservationsInSeconds) {
  Registry r;
  Histogram h = r.AddHistogram("d_seconds", "help", LatencyBuckets());
  h.ObserveDuration(absl::Milliseconds(3));
  h.ObserveDuration(absl::Seconds(2));
  const std::string text = r.Text();
  EXPECT_THAT(text, HasSubstr("d_seconds_count 2"));
  EXPECT_THAT(text, HasSubstr("d_seconds_bucket{le=\"0.005\"} 1"));
}

TEST(MetricsTest, ReplacedGaugesDropTheSeriesThatAreGone) {
  Registry r;
  r.ReplaceGauges("lag", "help", "host_id", {{"a", 1}, {"b", 2}});
  EXPECT_THAT(r.Text(), HasSubstr("lag{host_id=\"b\"} 2"));
  r.ReplaceGauges("lag", "help", "host_id", {{"a", 5}});
  const std::string text = r.Text();
  EXPECT_THAT(text, HasSubstr("lag{host_id=\"a\"} 5"));
  EXPECT_THAT(text, Not(HasSubstr("host_id=\"b\"")));
}

TEST(MetricsTest, ScrapeCallbacksRunBeforeEachScrapeUntilCleared) {
  Registry r;
  Gauge g = r.AddGauge("depth", "help");
  int calls = 0;
  r.OnScrape([&] { g.Set(++calls); });
  EXPECT_THAT(r.Text(), HasSubstr("depth 1"));
  EXPECT_THAT(r.Text(), HasSubstr("depth 2"));
  r.ClearOnScrape();
  EXPECT_THAT(r.Text(), HasSubstr("depth 2"));
  EXPECT_EQ(calls, 2);
}

TEST(MetricsTest, ServeRefusesAnAddressItCannotBind) {
  absl::StatusOr<std::unique_ptr<Registry>> r =
      Registry::Serve("192.0.2.1:1", "--metrics-listen");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("--metrics-listen"));
}

TEST(MetricsTest, ServeReportsThePortItBound) {
  absl::StatusOr<std::unique_ptr<Registry>> r =
      Registry::Serve("127.0.0.1:0", "--metrics-listen");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT((*r)->port(), 0);
}

}  // namespace
}  // namespace relaysync::metrics
