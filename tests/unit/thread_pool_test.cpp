#include "model/thread_pool.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tinyrag {
namespace {

// Every index in [0, n) must be visited exactly once, by a valid thread id.
void ExpectEachOnce(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(n);
  std::atomic<bool> bad_thread{false};
  pool.ParallelFor(n, [&](int64_t task, int thread) {
    if (thread < 0 || thread >= pool.num_threads()) bad_thread = true;
    hits[task].fetch_add(1);
  });
  EXPECT_FALSE(bad_thread);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "task " << i << " of " << n;
}

TEST(ThreadPoolTest, VisitsEveryTaskOnceForManySizes) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 4097}) ExpectEachOnce(pool, n);
  }
}

// Jobs above the 2^20 tasks one job word can count run as several rounds.
TEST(ThreadPoolTest, VisitsEveryTaskOnceBeyondOneRound) {
  ThreadPool pool(2);
  ExpectEachOnce(pool, (int64_t{1} << 20) + 7);
}

TEST(ThreadPoolTest, NonPositiveSizeMeansOneThread) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.num_threads(), 1);
  ExpectEachOnce(pool, 10);
}

TEST(ThreadPoolTest, ManyBackToBackCalls) {
  ThreadPool pool(3);
  int64_t total = 0;
  for (int call = 0; call < 20000; ++call) {
    const int64_t n = 1 + call % 9;
    std::vector<int64_t> out(n, 0);
    pool.ParallelFor(n, [&](int64_t task, int) { out[task] = task + 1; });
    for (int64_t v : out) total += v;
  }
  int64_t expected = 0;
  for (int call = 0; call < 20000; ++call) {
    const int64_t n = 1 + call % 9;
    expected += n * (n + 1) / 2;
  }
  EXPECT_EQ(total, expected);
}

TEST(ThreadPoolTest, CallsAfterWorkersFellAsleep) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    // Long enough for the workers' spin to end and them to sleep.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ExpectEachOnce(pool, 100);
  }
}

TEST(ThreadPoolTest, UsesMoreThanOneThreadForSlowTasks) {
  ThreadPool pool(2);
  std::atomic<int> used_mask{0};
  pool.ParallelFor(64, [&](int64_t, int thread) {
    used_mask.fetch_or(1 << thread);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  EXPECT_EQ(used_mask.load(), 3);
}

TEST(ThreadPoolTest, RangesCoverExactlyOnce) {
  ThreadPool pool(2);
  for (int64_t n : {1, 5, 100, 12345}) {
    for (int64_t grain : {1, 7, 64, 100000}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> small{false};
      pool.ParallelForRange(n, grain, [&](int64_t begin, int64_t end, int) {
        if (end - begin < grain && end != n) small = true;
        for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      EXPECT_FALSE(small) << "a range below the grain that is not the last";
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1);
    }
  }
}

TEST(ThreadPoolTest, NestedCallRunsInline) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(8 * 16);
  pool.ParallelFor(8, [&](int64_t outer, int thread) {
    pool.ParallelFor(16, [&](int64_t inner, int inner_thread) {
      EXPECT_EQ(inner_thread, 0);  // inline: the nested call does not fan out
      hits[outer * 16 + inner].fetch_add(1);
    });
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialized) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) pool.ParallelFor(10, [&](int64_t t, int) { sum += t; });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 3 * 500 * 45);
}

TEST(ThreadPoolTest, DestroyRightAfterCreateAndAfterUse) {
  for (int i = 0; i < 50; ++i) {
    auto pool = std::make_unique<ThreadPool>(4);
    if (i % 2) ExpectEachOnce(*pool, 33);
  }
}

}  // namespace
}  // namespace tinyrag
