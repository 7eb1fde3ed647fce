"""The session, the plan-act loop, events, approvals, limits and the model seam."""
