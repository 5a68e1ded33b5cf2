#include "runtime/cluster/round_robin.h"

namespace tend::cluster {

absl::StatusOr<std::unique_ptr<RoundRobin>> RoundRobin::Start(loop::EventLoop& loop,
                                                              UniqueFd listening) {
  // Made non-blocking when bound (shared_sockets.cc), as the loop needs.
  std::unique_ptr<RoundRobin> round_robin(new RoundRobin());
  RoundRobin* raw = round_robin.get();
  auto acceptor = net::Acceptor::Start(loop, std::move(listening),
                                       [raw](UniqueFd connection, const sockaddr_storage&) {
                                         raw->OnConnection(std::move(connection));
                                       });
  if (!acceptor.ok()) return acceptor.status();
  round_robin->acceptor_ = std::move(*acceptor);
  return round_robin;
}

void RoundRobin::Add(int worker_id, Send send) { workers_[worker_id].send = std::move(send); }

void RoundRobin::Remove(int worker_id) {
  workers_.erase(worker_id);  // closes tend's copies of what it was handed
  Distribute();
}

void RoundRobin::SetServing(int worker_id, bool serving) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  it->second.serving = serving;
  if (serving) Distribute();
}

bool RoundRobin::Answered(int worker_id, int seq, bool accepted) {
  auto worker = workers_.find(worker_id);
  if (worker == workers_.end()) return false;
  auto handed = worker->second.unanswered.find(seq);
  if (handed == worker->second.unanswered.end()) return false;
  Connection connection = std::move(handed->second);
  worker->second.unanswered.erase(handed);
  worker->second.full = false;
  // Taken: the worker has its own copy, and tend's closes here. Refused: another's turn,
  // first in line, unless it was refused too often.
  if (!accepted && ++connection.refusals < kMaxRefusals) {
    waiting_.push_front(std::move(connection));
  }
  Distribute();
  return true;
}

void RoundRobin::OnConnection(UniqueFd connection) {
  waiting_.push_back({std::move(connection), 0});
  Distribute();
}

RoundRobin::Worker* RoundRobin::Choose() {
  Worker* chosen = nullptr;
  int chosen_id = -1;
  size_t fewest = kMaxUnanswered;  // a worker at the bound is not chosen
  // In turn: the first worker after the last chosen one wins among equals.
  auto consider = [&](std::map<int, Worker>::iterator from, std::map<int, Worker>::iterator to) {
    for (auto it = from; it != to; ++it) {
      Worker& worker = it->second;
      if (!worker.serving || worker.full || worker.unanswered.size() >= fewest) continue;
      fewest = worker.unanswered.size();
      chosen = &worker;
      chosen_id = it->first;
    }
  };
  auto after = workers_.upper_bound(last_chosen_);
  consider(after, workers_.end());
  consider(workers_.begin(), after);
  if (chosen) last_chosen_ = chosen_id;
  return chosen;
}

void RoundRobin::Distribute() {
  while (!waiting_.empty()) {
    Worker* worker = Choose();
    if (!worker) break;
    int seq = worker->send(waiting_.front().fd.get());
    if (seq < 0) {
      worker->full = true;  // its channel is: it gets nothing until it answers
      continue;
    }
    worker->unanswered[seq] = std::move(waiting_.front());
    waiting_.pop_front();
  }
  // Full: the kernel's backlog holds further connections until some are handed.
  bool accept = waiting_.size() < kMaxWaiting;
  if (accept != accepting_) {
    accepting_ = accept;
    acceptor_->SetAccepting(accept);
  }
}

}  // namespace tend::cluster
