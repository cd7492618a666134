/*
 * A tiny intrusive doubly linked list, header only: a struct sx_list
 * member in each element, a circular list around a head sentinel, so
 * removing an element needs neither the head nor a special case.
 */
#ifndef SX_LIST_H
#define SX_LIST_H
#include <stddef.h>

struct sx_list {
    struct sx_list *prev, *next;
};

/* The element that contains the member `node` (a struct sx_list *). */
#define sx_list_entry(node, type, member)                               \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* Walks the list; `it` may be removed (not others) inside the body. */
#define sx_list_foreach_safe(head, it, tmp)                             \
    for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head);       \
         (it) = (tmp), (tmp) = (it)->next)

/* An empty list, or a node that is on no list. */
static inline void sx_list_init(struct sx_list *n)
{
    n->prev = n->next = n;
}

static inline int sx_list_empty(const struct sx_list *head)
{
    return head->next == head;
}

/* 1 if n (initialised) is on a list. */
static inline int sx_list_linked(const struct sx_list *n)
{
    return n->next != n;
}

static inline void sx_list_insert_(struct sx_list *n, struct sx_list *prev,
                                   struct sx_list *next)
{
    n->prev = prev;
    n->next = next;
    prev->next = n;
    next->prev = n;
}

static inline void sx_list_push_back(struct sx_list *head, struct sx_list *n)
{
    sx_list_insert_(n, head->prev, head);
}

static inline void sx_list_push_front(struct sx_list *head,
                                      struct sx_list *n)
{
    sx_list_insert_(n, head, head->next);
}

/* Unlinks n; removing a node twice, or one never added, is harmless. */
static inline void sx_list_remove(struct sx_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    sx_list_init(n);
}

/* The first / last node, or NULL if the list is empty. */
static inline struct sx_list *sx_list_first(const struct sx_list *head)
{
    return sx_list_empty(head) ? NULL : head->next;
}

static inline struct sx_list *sx_list_last(const struct sx_list *head)
{
    return sx_list_empty(head) ? NULL : head->prev;
}

/* The node after n, or NULL at the end of the list headed by head. */
static inline struct sx_list *sx_list_next(const struct sx_list *head,
                                           const struct sx_list *n)
{
    return n->next == head ? NULL : n->next;
}

#endif
