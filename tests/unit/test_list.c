/*
 * Unit tests for sx_list.h: push at both ends, removal at the head, the
 * tail and the middle, double removal, iteration with removal, and
 * sx_list_entry finding the containing element.
 */
#include <string.h>

#include "sx_list.h"
#include "testhelp.h"

struct item {
    int id;
    struct sx_list link;
};

/* 1 if the ids along the list, forwards and backwards, are want. */
static int order_is(const struct sx_list *head, const char *want)
{
    char fwd[32] = "", back[32] = "";
    const struct sx_list *n;
    size_t i = 0, j = strlen(want);

    for (n = sx_list_first(head); n && i < 31; n = sx_list_next(head, n))
        fwd[i++] = (char)('0' + sx_list_entry(n, struct item, link)->id);
    fwd[i] = '\0';
    back[j] = '\0';
    for (n = head->prev; n != head && j > 0; n = n->prev)
        back[--j] = (char)('0' + sx_list_entry(n, struct item, link)->id);
    if (strcmp(fwd, want) != 0 || strcmp(back, want) != 0 || j != 0) {
        printf("  forward '%s', backward '%s', want '%s'\n", fwd, back,
               want);
        return 0;
    }
    return 1;
}

static void test_push_remove(void)
{
    struct sx_list head;
    struct item it[5];
    int i;

    sx_list_init(&head);
    test_cond("new list empty", sx_list_empty(&head) &&
                                    sx_list_first(&head) == NULL &&
                                    sx_list_last(&head) == NULL);
    for (i = 0; i < 5; i++) {
        it[i].id = i;
        sx_list_init(&it[i].link);
    }
    test_cond("a fresh node is not linked", !sx_list_linked(&it[0].link));
    sx_list_push_back(&head, &it[1].link);
    sx_list_push_back(&head, &it[2].link);
    sx_list_push_front(&head, &it[0].link);
    sx_list_push_back(&head, &it[3].link);
    test_cond("push back and front", order_is(&head, "0123"));
    test_cond("linked", sx_list_linked(&it[2].link));
    test_cond("first and last", sx_list_first(&head) == &it[0].link &&
                                    sx_list_last(&head) == &it[3].link);
    sx_list_remove(&it[2].link);
    test_cond("remove middle", order_is(&head, "013"));
    test_cond("removed node unlinked", !sx_list_linked(&it[2].link));
    sx_list_remove(&it[2].link);
    test_cond("remove twice is harmless", order_is(&head, "013"));
    sx_list_remove(&it[4].link);
    test_cond("remove a never-added node", order_is(&head, "013"));
    sx_list_remove(&it[0].link);
    test_cond("remove head", order_is(&head, "13"));
    sx_list_remove(&it[3].link);
    test_cond("remove tail", order_is(&head, "1"));
    sx_list_remove(&it[1].link);
    test_cond("remove last one: empty", sx_list_empty(&head) &&
                                            order_is(&head, ""));
    sx_list_push_front(&head, &it[4].link);
    test_cond("reuse after removal", order_is(&head, "4"));
}

static void test_foreach(void)
{
    struct sx_list head, *n, *tmp;
    struct item it[6];
    int i, seen = 0;

    sx_list_init(&head);
    for (i = 0; i < 6; i++) {
        it[i].id = i;
        sx_list_push_back(&head, &it[i].link);
    }
    sx_list_foreach_safe(&head, n, tmp) {
        struct item *x = sx_list_entry(n, struct item, link);

        seen++;
        if (x->id % 2 == 0)
            sx_list_remove(n);
    }
    test_cond("foreach visits all", seen == 6);
    test_cond("removing while iterating", order_is(&head, "135"));
    sx_list_foreach_safe(&head, n, tmp)
        sx_list_remove(n);
    test_cond("remove all while iterating", sx_list_empty(&head));
    seen = 0;
    sx_list_foreach_safe(&head, n, tmp)
        seen++;
    test_cond("foreach on empty list", seen == 0);
    test_cond("entry of a member", sx_list_entry(&it[3].link, struct item,
                                                 link) == &it[3]);
}

int main(void)
{
    test_push_remove();
    test_foreach();
    return test_report();
}
