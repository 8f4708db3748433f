// Bounded single-producer single-consumer queue of owned values, and a doorbell that lets a
// consumer sleep when all its queues are empty without the producers paying for a system
// call on every push.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace netflowd {

template <typename T>
class SpscQueue {
 public:
  explicit SpscQueue(std::size_t capacity) : slots_(std::bit_ceil(capacity)), mask_(slots_.size() - 1) {}

  // Producer thread only. False when full (the value is not taken).
  bool push(const T& value) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == slots_.size()) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == slots_.size()) return false;
    }
    slots_[tail & mask_] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only. False when empty.
  bool pop(T& out) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  bool empty() const { return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire); }

 private:
  std::vector<T> slots_;
  std::size_t mask_;
  alignas(64) std::atomic<std::size_t> head_{0};
  std::size_t tail_cache_ = 0;  // consumer's view of tail
  alignas(64) std::atomic<std::size_t> tail_{0};
  std::size_t head_cache_ = 0;  // producer's view of head
};

// Producers ring after pushing; the consumer sleeps on it for at most a timeout. The mutex is
// only taken when the consumer is (about to be) asleep.
class Doorbell {
 public:
  void ring() {
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard lock(mutex_);
      rung_ = true;
      cv_.notify_one();
    }
  }

  // Sleeps until rung or `timeout` passed, unless has_work() is already true.
  template <typename HasWork>
  void wait(HasWork has_work, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    sleeping_.store(true, std::memory_order_seq_cst);
    if (!has_work()) cv_.wait_for(lock, timeout, [this] { return rung_; });
    rung_ = false;
    sleeping_.store(false, std::memory_order_seq_cst);
  }

 private:
  std::atomic<bool> sleeping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool rung_ = false;
};

}  // namespace netflowd
