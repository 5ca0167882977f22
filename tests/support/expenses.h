/*
 * The DESIGN expenses flow as spate saves it: the flow tests and the SDK
 * tests build or load that flow and compare what they save with it.
 */
#ifndef SPATE_TESTS_EXPENSES_H
#define SPATE_TESTS_EXPENSES_H

extern const char expenses_saved_yaml[];

#endif
