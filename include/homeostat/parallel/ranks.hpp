// A batch's trials shared by the ranks of an MPI job (issue 15; README
// "Running on a cluster"): the ChunkReduction whose seams gather over MPI,
// and the gathers of trial states and recordings to rank 0, which alone
// writes files.
//
// Each rank computes consecutive trials (rank_trials in grad.hpp: whole
// atoms of trial_atom trials for the gradient, single trials for
// forward-only runs). The seams combine in rank order, which is trial and
// atom order, so every rank holds the bits one process computing the whole
// batch would have.
#pragma once

#include "homeostat/grad.hpp"
#include "homeostat/parallel/mpi.hpp"

#include <cstdint>
#include <vector>

namespace homeostat::parallel {

// Bytes a rank receives per chunk: the loss sums of the other ranks'
// trials, 6 x (B - B_r) x N doubles (an all-gather), and for the gradient
// at most two copies of the atoms' sum, 2 x sets x (E_rec + E_ff) doubles,
// whatever B and R: the running sum of the atoms before its own from the
// rank before, then the total from the last rank (MpiContext::running_sum).
class MpiReduction final : public ChunkReduction {
 public:
  // `range`: this rank's trials (rank_trials).
  MpiReduction(const MpiContext& mpi, TrialRange range) : mpi_(mpi), range_(range) {}
  TrialRange trials(std::int64_t /*local*/) const override { return range_; }
  bool all(bool mine) const override { return !mpi_.any(!mine); }
  void gather_loss_sums(LossSums<double>& sums) const override;
  AtomGradient sum_atom_gradients(std::int64_t first_atom, std::vector<AtomGradient>& atoms) const override;

 private:
  const MpiContext& mpi_;
  TrialRange range_;
};

// Every rank's trial states (its trials, consecutive in rank order) in trial
// order at rank 0; the other ranks get an empty vector.
std::vector<TrialState<float>> gather_states(const MpiContext& mpi, const std::vector<TrialState<float>>& mine);

// Every rank's records of one chunk, likewise.
std::vector<TrialRecord> gather_records(const MpiContext& mpi, const std::vector<TrialRecord>& mine);

}  // namespace homeostat::parallel
