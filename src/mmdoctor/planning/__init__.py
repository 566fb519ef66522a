"""Choosing a stack and the steps that install it: the matrix, the machine a plan is for, the
wishes, the resolver, the plan and its steps, source builds, exports and the installers. Pure
data in, data out: nothing here runs a command or imports what carries a plan out."""
